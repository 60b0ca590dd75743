import EchoServer
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PorticoTestSupport
import ServiceLifecycle
import Testing

@testable import PorticoCore
@testable import devportal
@testable import gateway
@testable import publisher

/// The whole product in this process: the publisher and devportal as their `buildApplication`
/// makes them, the gateway as `Gateway.build` makes it, and the echo backend (`EchoServer`), on
/// one fresh PostgreSQL database, each listening on its own port and spoken to over real sockets
/// (`PorticoStack` says what is prepared). The gateway's connection log goes to a file of its own.
final class InProcessStack: PorticoStack, @unchecked Sendable {
    let publisherURL: String
    let devportalURL: String
    let gatewayURL: String
    let adminURL: String
    let managementURL: String
    let echoPort: Int
    var apiID = ""
    var applicationID = ""
    var token = ""
    var consumerKey = ""
    var consumerSecret = ""
    let gateway: Gateway
    let databaseURL: DatabaseURL
    private let echoLines: NIOLockedValueBox<[String]>
    private let connectionLogFile: String

    var echoOutput: String { echoLines.withLockedValue { $0.joined(separator: "\n") } }
    var connectionLogOutput: String { (try? String(contentsOfFile: connectionLogFile, encoding: .utf8)) ?? "" }

    private init(
        environment: [String: String],
        databaseURL: DatabaseURL,
        gateway: Gateway,
        echoPort: Int,
        echoLines: NIOLockedValueBox<[String]>
    ) {
        self.databaseURL = databaseURL
        publisherURL = "http://127.0.0.1:\(environment["PUBLISHER_PORT"]!)/api/am/publisher/v4"
        devportalURL = "http://127.0.0.1:\(environment["DEVPORTAL_PORT"]!)"
        gatewayURL = "ws://127.0.0.1:\(environment["GATEWAY_PORT"]!)"
        adminURL = "http://127.0.0.1:\(environment["GATEWAY_ADMIN_PORT"]!)"
        managementURL = "http://127.0.0.1:\(environment["GATEWAY_MANAGEMENT_PORT"]!)"
        connectionLogFile = environment["GATEWAY_CONNECTION_LOG"]!
        self.gateway = gateway
        self.echoPort = echoPort
        self.echoLines = echoLines
    }

    /// Starts the stack, publishes the API and prepares the developer's token, runs `body`, stops all.
    static func run(extra: [String: String] = [:], _ body: @escaping @Sendable (InProcessStack) async throws -> Void) async throws {
        try await TestDatabase.withEmptyDatabase { url in
            // Threads of their own, as processes have: a stack sharing the test process's event loops
            // with every other test running at the same time would see its timing depend on theirs.
            let gatewayLoops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
            let echoLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            defer {
                gatewayLoops.shutdownGracefully { _ in }
                echoLoop.shutdownGracefully { _ in }
            }
            let echoLines = NIOLockedValueBox<[String]>([])
            let echo = try await EchoServer.start(host: "127.0.0.1", port: 0, group: echoLoop) { line in
                echoLines.withLockedValue { $0.append(line) }
            }
            defer { echo.close(promise: nil) }
            let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("portico-connections-\(UUID().uuidString).log").path
            defer { try? FileManager.default.removeItem(atPath: logFile) }
            var environment = TestSettings.stack(url, extra: ["GATEWAY_CONNECTION_LOG": logFile])
            environment.merge(extra) { _, new in new }
            let source = SettingsSource(values: environment)
            var logger = Logger(label: "portico.test")
            logger.logLevel = .error
            let gateway = Gateway.build(settings: try GatewaySettings(source: source), logger: logger, group: gatewayLoops)
            let services: [any Service] =
                [
                    try await publisher.buildApplication(settings: PublisherSettings(source: source), logger: logger),
                    try await devportal.buildApplication(settings: DevportalSettings(source: source), logger: logger),
                ] + (try gateway.services())
            let group = ServiceGroup(configuration: .init(services: services, logger: logger))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                defer { tasks.cancelAll() }
                let stack = InProcessStack(
                    environment: environment,
                    databaseURL: url,
                    gateway: gateway,
                    echoPort: echo.localAddress?.port ?? 0,
                    echoLines: echoLines
                )
                do {
                    for ready in [stack.publisherURL.replacingOccurrences(of: "/api/am/publisher/v4", with: ""), stack.devportalURL, stack.adminURL] {
                        let up = await eventually(within: 60) { (try? await HTTP.send("GET", "\(ready)/health/ready").status) == 200 }
                        guard up else { throw TestSetupError("\(ready) did not become ready") }
                    }
                    try await stack.prepare()
                    try await body(stack)
                } catch {
                    await group.triggerGracefulShutdown()
                    throw error
                }
                await group.triggerGracefulShutdown()
                try await tasks.next()
            }
        }
    }
}
