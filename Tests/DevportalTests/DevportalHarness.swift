import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import PorticoCore
import PorticoTestSupport
import PostgresNIO
import Testing

@testable import devportal

/// Runs the real devportal application against a fresh PostgreSQL database. `provider` gives the
/// test direct access to the same database (to publish APIs as the publisher would).
enum DevportalHarness {
    static func settings(_ url: DatabaseURL, extra: [String: String] = [:]) throws -> DevportalSettings {
        try DevportalSettings(
            source: SettingsSource(values: TestSettings.values(url, extra: ["PORTICO_DB_POOL_SIZE": "6"].merging(extra) { _, new in new }))
        )
    }

    static func run(
        settings extra: [String: String] = [:],
        logger: Logger = TestDatabase.logger,
        _ test: @escaping @Sendable (RESTClient, Provider) async throws -> Void
    ) async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let settings = try settings(url, extra: extra)
            let app = try await buildApplication(settings: settings, logger: logger)
            try await app.test(.router) { client in
                let database = Database(url: url, poolSize: 2, logger: TestDatabase.logger)
                try await database.withRunningClient {
                    try await test(
                        RESTClient(RouterTransport(client), base: RESTClient.devportalBase),
                        Provider(database: database, settings: settings)
                    )
                }
            }
        }
    }
}

/// The provider's side, straight through the stores: publish APIs for developers to find.
struct Provider: Sendable {
    let database: Database
    let settings: DevportalSettings

    var apis: APIStore { APIStore(database: database) }

    @discardableResult
    func api(
        _ name: String = "EchoWebSocket",
        context: String = "/echowebsocket",
        version: String = "1.0.0",
        plans: [String] = ["Gold", "Silver"],
        visibility: WebSocketAPI.Visibility = .public,
        actions: [LifecycleAction] = [.publish]
    ) async throws -> WebSocketAPI {
        var api = try await apis.create(
            APISpec(
                name: name,
                context: context,
                version: version,
                isDefaultVersion: true,
                visibility: visibility,
                plans: plans,
                productionEndpoint: "ws://127.0.0.1:9100",
                sandboxEndpoint: "ws://127.0.0.1:9101"
            ),
            provider: "admin"
        )
        for action in actions {
            api = try await apis.changeLifecycle(id: api.id, action: action, user: "admin", ifMatch: nil)
        }
        return api
    }

    func query<T: PostgresDecodable & Sendable>(_ sql: String, as type: T.Type) async throws -> [T] {
        var values: [T] = []
        for try await value in try await database.client.query(.init(unsafeSQL: sql), logger: TestDatabase.logger).decode(T.self) {
            values.append(value)
        }
        return values
    }
}

/// A log handler that keeps every line, so a test can show that no secret was logged. A value, as
/// swift-log wants: each logger copy has its own metadata, and all of them share the lines.
struct CapturedLog: LogHandler {
    private let lines = NIOLockedValueBox<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        lines.withLockedValue { $0.append("\(event.level) \(event.message) \(merged)") }
    }

    var text: String { lines.withLockedValue { $0.joined(separator: "\n") } }
}
