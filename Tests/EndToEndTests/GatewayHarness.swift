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

/// All four binaries against one fresh database, with EchoWebSocket 1.0.0 published (plans Gold
/// and Silver, production endpoint the echo backend, no sandbox endpoint) and a developer whose
/// application is subscribed with Gold.
final class GatewayStack: @unchecked Sendable {
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
    var apiID = ""
    var applicationID = ""
    var token = ""
    var consumerKey = ""
    var consumerSecret = ""
    let admin = HTTP.basic("admin", "e2e-admin-pw")
    let dev = HTTP.basic("dev", "dev-password")

    init(url: DatabaseURL, extra: [String: String]) throws {
        self.url = url
        let ports = (0..<5).map { _ in ServiceProcess.freePort() }
        echoPort = ports[4]
        environment = PublisherProcessTests.environment(url, extra: [
            "PORTICO_ADMIN_PASSWORD": "e2e-admin-pw", "PORTICO_SECRET_KEY": ReferenceFlowProcessTests.secretKey,
            "PUBLISHER_PORT": "\(ports[0])", "DEVPORTAL_PORT": "\(ports[1])", "GATEWAY_PORT": "\(ports[2])",
            "GATEWAY_ADMIN_PORT": "\(ports[3])", "GATEWAY_BIND_ADDRESS": "127.0.0.1", "GATEWAY_DRAIN_SECONDS": "1",
        ].merging(extra) { _, new in new })
        publisherURL = "http://127.0.0.1:\(ports[0])/api/am/publisher/v4"
        devportalURL = "http://127.0.0.1:\(ports[1])"
        gatewayURL = "ws://127.0.0.1:\(ports[2])"
        adminURL = "http://127.0.0.1:\(ports[3])"
        publisher = try ServiceProcess("publisher", environment: environment)
        devportal = try ServiceProcess("devportal", environment: environment)
        echo = try ServiceProcess("echo-backend", ["--port", "\(ports[4])"], environment: [:])
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
    static func run(database url: DatabaseURL, extra: [String: String] = [:], _ body: @escaping @Sendable (GatewayStack) async throws -> Void) async throws {
        let stack = try GatewayStack(url: url, extra: extra)
        defer { stack.stop() }
        try await stack.publisher.waitUntilReady(stack.publisherURL.replacingOccurrences(of: "/api/am/publisher/v4", with: "/health/ready"))
        try await stack.devportal.waitUntilReady("\(stack.devportalURL)/health/ready")
        try await stack.gateway.waitUntilReady("\(stack.adminURL)/health/ready")
        try await stack.prepare()
        try await body(stack)
    }

    func stop() {
        for process in [gateway, publisher, devportal, echo] { process.terminate() }
    }

    private func prepare() async throws {
        apiID = try await createAPI(name: "EchoWebSocket", context: "/echowebsocket", version: "1.0.0", isDefault: true)
        try await lifecycle(apiID, "Publish")
        #expect(try await HTTP.send("POST", "\(devportalURL)/api/am/devportal/v3/signup",
                                    body: #"{"username":"dev","password":"dev-password"}"#).status == 201)
        applicationID = try await createApplication("EchoClient")
        try await subscribe(applicationID, to: apiID)
        (consumerKey, consumerSecret, token) = try await keys(for: applicationID, type: "PRODUCTION")
        try await settle()
    }

    /// Waits until the gateway has taken in the changes made so far: they reach it moments after
    /// they commit (NOTIFY, then a reload of some milliseconds), and a test must not race that.
    func settle() async throws {
        func generation() async throws -> Int {
            HTTP.json(try await HTTP.send("GET", "\(adminURL)/health/ready").body)["snapshotGeneration"] as? Int ?? 0
        }
        try await Task.sleep(for: .milliseconds(150))
        var last = try await generation()
        for _ in 0..<20 {
            try await Task.sleep(for: .milliseconds(50))
            let now = try await generation()
            if now == last { return }
            last = now
        }
    }

    /// Creates an API offering `plans`. `endpointConfig` (JSON) replaces the one made of `endpoint`,
    /// `sandbox` and `caFile`; `extra` adds top-level JSON members (`"limits":{…}`).
    func createAPI(name: String, context: String, version: String, isDefault: Bool = false, sandbox: Bool = false,
                   endpoint: String? = nil, caFile: String? = nil, plans: [String] = ["Gold", "Silver"], extra: String = "",
                   endpointConfig: String? = nil) async throws -> String {
        let production = endpoint ?? "ws://127.0.0.1:\(echoPort)"
        let sandboxPart = (sandbox ? #","sandbox_endpoints":{"url":"\#(production)"}"# : "") + (caFile.map { #","ca_file":"\#($0)""# } ?? "")
        let endpoints = endpointConfig ?? #"{"endpoint_type":"ws","production_endpoints":{"url":"\#(production)"}\#(sandboxPart)}"#
        let policies = plans.map { "\"\($0)\"" }.joined(separator: ",")
        let (status, body) = try await HTTP.send("POST", "\(publisherURL)/apis", body: """
            {"name":"\(name)","context":"\(context)","version":"\(version)","policies":[\(policies)],"isDefaultVersion":\(isDefault),
             "endpointConfig":\(endpoints)\(extra.isEmpty ? "" : "," + extra)}
            """, headers: admin)
        #expect(status == 201, "\(String(decoding: body, as: UTF8.self))")
        return HTTP.json(body)["id"] as? String ?? ""
    }

    func lifecycle(_ id: String, _ action: String) async throws {
        let encoded = action.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let (status, body) = try await HTTP.send("POST", "\(publisherURL)/apis/change-lifecycle?apiId=\(id)&action=\(encoded)", headers: admin)
        #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
    }

    func createApplication(_ name: String, plan: String = "Unlimited") async throws -> String {
        let (_, body) = try await HTTP.send("POST", "\(devportalURL)/api/am/devportal/v3/applications",
                                            body: #"{"name":"\#(name)","throttlingPolicy":"\#(plan)"}"#, headers: dev)
        return HTTP.json(body)["applicationId"] as? String ?? ""
    }

    /// The admin API (business plans).
    var adminAPIURL: String { publisherURL.replacingOccurrences(of: "/publisher/", with: "/admin/") }

    /// Creates a subscription business plan from its admin JSON; returns its id.
    @discardableResult
    func createPlan(_ json: String) async throws -> String {
        let (status, body) = try await HTTP.send("POST", "\(adminAPIURL)/throttling-policies/subscription", body: json, headers: admin)
        #expect(status == 201, "\(String(decoding: body, as: UTF8.self))")
        return HTTP.json(body)["policyId"] as? String ?? ""
    }

    /// Creates and publishes `name` 1 at context `/<name in lower case>` (see `createAPI`).
    func publishAPI(_ name: String, plans: [String], extra: String = "", endpointConfig: String? = nil) async throws -> String {
        let id = try await createAPI(name: name, context: "/\(name.lowercased())", version: "1", plans: plans, extra: extra,
                                     endpointConfig: endpointConfig)
        try await lifecycle(id, "Publish")
        return id
    }

    /// Whether the echo backend printed `text` (it prints the close frames it receives) within `seconds`.
    func echoPrinted(_ text: String, within seconds: Double = 5) async -> Bool {
        await eventually(within: seconds) { echo.output.contains(text) }
    }

    /// A second gateway process on the same database, with its own ports: (process, ws URL, admin URL).
    func startAnotherGateway() async throws -> (ServiceProcess, String, String) {
        let port = ServiceProcess.freePort(), adminPort = ServiceProcess.freePort()
        let process = try ServiceProcess("gateway", environment: environment.merging(
            ["GATEWAY_PORT": "\(port)", "GATEWAY_ADMIN_PORT": "\(adminPort)", "GATEWAY_NODE_ID": "second"]) { _, new in new })
        try await process.waitUntilReady("http://127.0.0.1:\(adminPort)/health/ready")
        return (process, "ws://127.0.0.1:\(port)", "http://127.0.0.1:\(adminPort)")
    }

    @discardableResult
    func subscribe(_ applicationID: String, to apiID: String, plan: String = "Gold") async throws -> String {
        let (status, body) = try await HTTP.send("POST", "\(devportalURL)/api/am/devportal/v3/subscriptions",
            body: #"{"applicationId":"\#(applicationID)","apiId":"\#(apiID)","throttlingPolicy":"\#(plan)"}"#, headers: dev)
        #expect(status == 201, "\(String(decoding: body, as: UTF8.self))")
        return HTTP.json(body)["subscriptionId"] as? String ?? ""
    }

    /// Generates keys of `type` for the application: (consumer key, secret, first token).
    func keys(for applicationID: String, type: String) async throws -> (String, String, String) {
        let (_, body) = try await HTTP.send("POST", "\(devportalURL)/api/am/devportal/v3/applications/\(applicationID)/generate-keys",
                                            body: #"{"keyType":"\#(type)"}"#, headers: dev)
        let json = HTTP.json(body)
        return (json["consumerKey"] as? String ?? "", json["consumerSecret"] as? String ?? "",
                (json["token"] as? [String: Any])?["accessToken"] as? String ?? "")
    }

    /// Waits (at most 3 s) until the gateway counts `count` open connections.
    func waitForActiveConnections(_ count: Int) async throws {
        try await eventually(within: 3, every: .milliseconds(20)) {
            HTTP.json(try await HTTP.send("GET", "\(adminURL)/health/ready").body)["activeConnections"] as? Int == count
        }
    }

    /// Another access token for the application's production keys (client credentials grant).
    func newToken() async throws -> String {
        let (status, body) = try await HTTP.send("POST", "\(devportalURL)/oauth2/token", body: "grant_type=client_credentials",
            headers: HTTP.basic(consumerKey, consumerSecret).merging(["Content-Type": "application/x-www-form-urlencoded"]) { a, _ in a })
        #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
        return HTTP.json(body)["access_token"] as? String ?? ""
    }

    func revoke(_ token: String) async throws {
        let (status, _) = try await HTTP.send("POST", "\(devportalURL)/oauth2/revoke", body: "token=\(token)",
            headers: HTTP.basic(consumerKey, consumerSecret).merging(["Content-Type": "application/x-www-form-urlencoded"]) { a, _ in a })
        #expect(status == 200)
    }
}

/// A WebSocket client from websocket-kit (not Portico's code), collecting what it receives.
final class TestClient: @unchecked Sendable {
    private let box = NIOLockedValueBoxCompat<WebSocket?>(nil)
    private let received = NIOLockedValueBoxCompat<[String]>([])
    private let binaries = NIOLockedValueBoxCompat<[[UInt8]]>([])

    var socket: WebSocket { box.value! }
    var texts: [String] { received.value }
    var binary: [[UInt8]] { binaries.value }

    /// Connects; throws `WebSocketClient.Error.invalidResponseStatus` with the gateway's answer on refusal.
    static func connect(_ url: String, headers: HTTPHeaders = [:], maxFrameSize: Int = 1 << 24,
                        tls: TLSConfiguration? = nil) async throws -> TestClient {
        let client = TestClient()
        let promise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Void.self)
        WebSocket.connect(to: url, headers: headers, configuration: .init(tlsConfiguration: tls, maxFrameSize: maxFrameSize),
                          on: MultiThreadedEventLoopGroup.singleton) { socket in
            // websocket-kit wants its callbacks set on the socket's event loop: here.
            socket.onText { _, text in client.received.mutate { $0.append(text) } }
            socket.onBinary { _, buffer in client.binaries.mutate { $0.append(Array(buffer.readableBytesView)) } }
            client.box.mutate { $0 = socket }
            promise.succeed()
        }.whenFailure { promise.fail($0) }
        try await promise.futureResult.get()
        return client
    }

    /// The HTTP status of a refused handshake.
    static func refusal(_ url: String, headers: HTTPHeaders = [:]) async -> UInt? {
        do {
            let client = try await connect(url, headers: headers)
            try? await client.socket.close()
            return 101
        } catch WebSocketClient.Error.invalidResponseStatus(let head) {
            return head.status.code
        } catch {
            return nil
        }
    }

    /// Waits until `condition` holds for what was received, at most `seconds`.
    func waitFor(seconds: Double = 10, _ condition: (TestClient) -> Bool) async -> Bool {
        await eventually(within: seconds, every: .milliseconds(20)) { condition(self) }
    }

    /// The close code once the connection has closed (nil if it is still open after `seconds`).
    func closeCode(within seconds: Double) async -> WebSocketErrorCode? {
        _ = await waitFor(seconds: seconds) { $0.socket.isClosed }
        return socket.isClosed ? socket.closeCode : nil
    }
}

/// A small lock box (tests only).
final class NIOLockedValueBoxCompat<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func mutate(_ body: (inout Value) -> Void) { lock.lock(); body(&stored); lock.unlock() }
}
