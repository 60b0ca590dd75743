import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import PorticoCore
import PorticoTestSupport
import Testing
import WebSocketKit

/// All four binaries as processes against one fresh database (`PorticoStack` says what is
/// prepared): for what is about processes — settings and exit codes, SIGTERM, a second gateway on
/// the same database, the database going away, memory.
final class GatewayStack: PorticoStack, @unchecked Sendable {
    let url: DatabaseURL
    let environment: [String: String]
    let publisher: ServiceProcess
    let devportal: ServiceProcess
    let gateway: ServiceProcess
    var echo: ServiceProcess
    let echoPort: Int
    let publisherURL: String
    let devportalURL: String
    let gatewayURL: String
    let adminURL: String
    let managementURL: String
    var apiID = ""
    var applicationID = ""
    var token = ""
    var consumerKey = ""
    var consumerSecret = ""
    var echoOutput: String { echo.output }
    var connectionLogOutput: String { gateway.output }
    var databaseURL: DatabaseURL { url }

    init(url: DatabaseURL, extra: [String: String]) throws {
        self.url = url
        environment = TestSettings.stack(url, extra: extra)
        echoPort = ServiceProcess.freePort()
        publisherURL = "http://127.0.0.1:\(environment["PUBLISHER_PORT"]!)/api/am/publisher/v4"
        devportalURL = "http://127.0.0.1:\(environment["DEVPORTAL_PORT"]!)"
        gatewayURL = "ws://127.0.0.1:\(environment["GATEWAY_PORT"]!)"
        adminURL = "http://127.0.0.1:\(environment["GATEWAY_ADMIN_PORT"]!)"
        managementURL = "http://127.0.0.1:\(environment["GATEWAY_MANAGEMENT_PORT"]!)"
        publisher = try ServiceProcess("publisher", environment: environment)
        devportal = try ServiceProcess("devportal", environment: environment)
        echo = try ServiceProcess("echo-backend", ["--port", "\(echoPort)"], environment: [:])
        // The gateway does not migrate: it retries until the schema the other services create is there.
        gateway = try ServiceProcess("gateway", environment: environment)
    }

    /// Starts the stack, publishes the API and prepares the developer's token, runs `body`, stops all.
    static func run(extra: [String: String] = [:], _ body: @escaping @Sendable (GatewayStack) async throws -> Void) async throws {
        try await TestDatabase.withEmptyDatabase { url in
            try await run(database: url, extra: extra, body)
        }
    }

    /// As `run`, on a database the caller provides (an empty one).
    /// With `prepared: false` nothing is published or subscribed: the test does the flow itself.
    static func run(
        database url: DatabaseURL,
        extra: [String: String] = [:],
        prepared: Bool = true,
        _ body: @escaping @Sendable (GatewayStack) async throws -> Void
    ) async throws {
        let stack = try GatewayStack(url: url, extra: extra)
        defer { stack.stop() }
        try await stack.publisher.waitUntilReady(stack.publisherURL.replacingOccurrences(of: "/api/am/publisher/v4", with: "/health/ready"))
        try await stack.devportal.waitUntilReady("\(stack.devportalURL)/health/ready")
        try await stack.gateway.waitUntilReady("\(stack.adminURL)/health/ready")
        if prepared { try await stack.prepare() }
        try await body(stack)
    }

    func stop() {
        for process in [gateway, publisher, devportal, echo] { process.terminate() }
    }

    /// A second gateway process on the same database, with its own ports.
    struct OtherGateway {
        let process: ServiceProcess
        let url: String
        let adminURL: String
        let managementURL: String
    }

    func startAnotherGateway() async throws -> OtherGateway {
        let port = ServiceProcess.freePort()
        let adminPort = ServiceProcess.freePort()
        let managementPort = ServiceProcess.freePort()
        let process = try ServiceProcess(
            "gateway",
            environment: environment.merging(
                [
                    "GATEWAY_PORT": "\(port)", "GATEWAY_ADMIN_PORT": "\(adminPort)", "GATEWAY_NODE_ID": "second",
                    "GATEWAY_MANAGEMENT_PORT": "\(managementPort)",
                ]
            ) { _, new in new }
        )
        try await process.waitUntilReady("http://127.0.0.1:\(adminPort)/health/ready")
        return OtherGateway(
            process: process,
            url: "ws://127.0.0.1:\(port)",
            adminURL: "http://127.0.0.1:\(adminPort)",
            managementURL: "http://127.0.0.1:\(managementPort)"
        )
    }
}
