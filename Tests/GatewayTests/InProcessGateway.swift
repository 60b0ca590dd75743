import EchoServer
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
@testable import PorticoCore
import PorticoTestSupport
import ServiceLifecycle
import Testing
@testable import gateway

/// The gateway as `gateway serve` builds it (`Gateway.build`), run in this process with the echo
/// backend in this process too, on a fresh PostgreSQL database seeded through the stores: API
/// EchoWebSocket 1.0.0 at /echowebsocket published with plan Gold, a developer's application
/// subscribed to it, and a production token. No publisher or devportal process: what they would
/// write, the stores write.
final class InProcessGateway: Sendable {
    let gateway: Gateway
    let database: Database
    let echoPort: Int
    let gatewayURL: String
    let token: String
    let applicationID: String
    let developer: User
    private let echoLines: NIOLockedValueBox<[String]>

    /// What the echo backend reported so far (`close <code> <reason>` per close it received).
    var echoOutput: String { echoLines.withLockedValue { $0.joined(separator: "\n") } }

    private init(gateway: Gateway, database: Database, echoPort: Int, token: String, applicationID: String, developer: User,
                 echoLines: NIOLockedValueBox<[String]>) {
        self.gateway = gateway
        self.database = database
        self.echoPort = echoPort
        self.gatewayURL = "ws://127.0.0.1:\(gateway.settings.port)"
        self.token = token
        self.applicationID = applicationID
        self.developer = developer
        self.echoLines = echoLines
    }

    static func run(settings extra: [String: String] = [:], _ body: @escaping @Sendable (InProcessGateway) async throws -> Void) async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let database = Database(url: url, poolSize: 4, logger: TestDatabase.logger)
            try await database.withRunningClient {
                try await Migrator(client: database.client, migrations: try Migrator.load(from: TestDatabase.migrationsDirectory),
                                   logger: TestDatabase.logger).migrate()
                let echoLines = NIOLockedValueBox<[String]>([])
                let echo = try await EchoServer.start(host: "127.0.0.1", port: 0) { line in echoLines.withLockedValue { $0.append(line) } }
                defer { echo.close(promise: nil) }
                let echoPort = echo.localAddress?.port ?? 0
                let seeded = try await seed(database, echoPort: echoPort)
                let settings = try GatewaySettings(source: SettingsSource(values: [
                    "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)",
                    "GATEWAY_PORT": "\(ServiceProcess.freePort())", "GATEWAY_ADMIN_PORT": "\(ServiceProcess.freePort())",
                    "GATEWAY_BIND_ADDRESS": "127.0.0.1", "GATEWAY_CONNECTION_LOG": "off", "GATEWAY_DRAIN_SECONDS": "0",
                    "DEVPORTAL_PUBLIC_URL": issuer,
                ].merging(extra) { _, new in new }))
                var logger = Logger(label: "portico.gateway.test")
                logger.logLevel = .error
                let gateway = Gateway.build(settings: settings, logger: logger)
                let group = ServiceGroup(configuration: .init(services: try gateway.services(), logger: logger))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    defer { tasks.cancelAll() }
                    let stack = InProcessGateway(gateway: gateway, database: database, echoPort: echoPort, token: seeded.token,
                                                 applicationID: seeded.applicationID, developer: seeded.developer, echoLines: echoLines)
                    try await stack.waitUntilServing()
                    do {
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

    static let issuer = "http://localhost:9081"

    /// What the publisher and devportal would have written: the API, a developer, their application,
    /// its subscription and production keys, and a token signed with the active signing key.
    private static func seed(_ database: Database, echoPort: Int) async throws -> (token: String, applicationID: String, developer: User) {
        let apis = APIStore(database: database)
        let api = try await apis.create(APISpec(name: "EchoWebSocket", context: "/echowebsocket", version: "1.0.0", isDefaultVersion: true,
                                                plans: ["Gold"], productionEndpoint: "ws://127.0.0.1:\(echoPort)"), provider: "admin")
        _ = try await apis.changeLifecycle(id: api.id, action: .publish, user: "admin", ifMatch: nil)
        let hasher = SecretHasher(cost: 4, pool: BcryptPool())
        let developer = try await UserStore(database: database, hasher: hasher)
            .create(username: "dev", password: "dev-password", email: nil, roles: [.subscriber])
        let application = try await ApplicationStore(database: database).create(name: "EchoClient", description: "", plan: "Unlimited", owner: developer)
        _ = try await SubscriptionStore(database: database).create(applicationID: application.id, apiID: api.id, plan: "Gold", owner: developer)
        let (key, _) = try await ClientKeyStore(database: database, hasher: hasher)
            .generate(applicationID: application.id, keyType: .production, grantTypes: ["client_credentials"])
        let signingKeys = SigningKeyStore(database: database, box: try SecretBox(base64: SecretBox.randomKeyBase64()), maxTokenLifetime: .seconds(86_400))
        _ = try await signingKeys.ensureActiveKey()
        let issued = try await TokenIssuer(signingKeys: signingKeys, tokens: TokenStore(database: database), issuer: issuer, audience: "portico-gateway")
            .issue(for: key, application: .init(id: application.id, name: application.name, owner: developer.username, tier: application.plan),
                   scope: "default", validity: 3600)
        return (issued.accessToken, application.id, developer)
    }

    /// Until the gateway has loaded a snapshot with the seeded API and listens.
    private func waitUntilServing() async throws {
        let loaded = await eventually(within: 20) { gateway.snapshot.current?.match(path: "/echowebsocket/1.0.0") != nil }
        guard loaded else { throw TestSetupError("the in-process gateway loaded no snapshot") }
        let listening = await eventually(within: 10) { (try? await RawConnection(gatewayURL))?.close() != nil }
        guard listening else { throw TestSetupError("the in-process gateway does not listen on \(gatewayURL)") }
    }

    /// Publishes API `name` 1 at `/<name in lower case>/1` with plan Gold, subscribes the
    /// developer's application, and waits until the gateway serves it.
    func publish(_ name: String, endpoint: String, limits: APILimits = .init()) async throws {
        let apis = APIStore(database: database)
        let api = try await apis.create(APISpec(name: name, context: "/\(name.lowercased())", version: "1", plans: ["Gold"],
                                                productionEndpoint: endpoint, limits: limits), provider: "admin")
        _ = try await apis.changeLifecycle(id: api.id, action: .publish, user: "admin", ifMatch: nil)
        _ = try await SubscriptionStore(database: database).create(applicationID: applicationID, apiID: api.id, plan: "Gold", owner: developer)
        let path = "/\(name.lowercased())/1"
        let served = await eventually(within: 10) {
            guard let connection = try? await RawConnection(gatewayURL) else { return false }
            defer { connection.close() }
            // An endpoint that sends nothing, or floods, still answers its 101: the handshake tells.
            try? await connection.send(RawConnection.upgradeRequest("\(path)?access_token=\(token)"))
            _ = await eventually(within: 2, every: .milliseconds(10)) { connection.text.contains("\r\n\r\n") }
            return connection.response.head.hasPrefix("HTTP/1.1 101")
        }
        guard served else { throw TestSetupError("the gateway does not serve \(path)") }
    }

    /// Opens `path` by hand with the token; returns the connection once the 101 is in.
    func open(_ path: String) async throws -> RawConnection {
        let connection = try await RawConnection(gatewayURL)
        try await connection.send(RawConnection.upgradeRequest("\(path)?access_token=\(token)"))
        #expect(await eventually(within: 5) { connection.text.contains("\r\n\r\n") })
        #expect(connection.response.head.hasPrefix("HTTP/1.1 101"), "\(connection.response.head)")
        return connection
    }
}
