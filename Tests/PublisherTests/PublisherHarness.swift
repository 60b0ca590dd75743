import Foundation
import Hummingbird
import HummingbirdTesting
import PorticoCore
import PorticoTestSupport
import Testing

@testable import publisher

/// Runs the real publisher application (router, middleware, stores) against a fresh PostgreSQL
/// database, with a client signed in as the admin (the flow's words: `ReferenceFlow.swift`).
enum PublisherHarness {
    static let maxBodyBytes = 4096

    static func settings(_ url: DatabaseURL) throws -> PublisherSettings {
        try PublisherSettings(
            source: SettingsSource(
                values: TestSettings.values(url, extra: ["PORTICO_MAX_BODY_BYTES": "\(maxBodyBytes)", "PORTICO_DB_POOL_SIZE": "6"])
            )
        )
    }

    static func run(_ test: @escaping @Sendable (RESTClient) async throws -> Void) async throws {
        try await runWithDatabase { client, _ in try await test(client) }
    }

    /// As `run`, with a client of the same database for what the test sets up directly.
    static func runWithDatabase(_ test: @escaping @Sendable (RESTClient, Database) async throws -> Void) async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let app = try await buildApplication(settings: try settings(url), logger: TestDatabase.logger)
            try await app.test(.router) { client in
                let database = Database(url: url, poolSize: 2, logger: TestDatabase.logger)
                try await database.withRunningClient {
                    try await test(
                        RESTClient(RouterTransport(client), base: RESTClient.publisherBase, username: "admin", password: TestSettings.adminPassword),
                        database
                    )
                }
            }
        }
    }
}
