import Foundation
import Hummingbird
import HummingbirdTesting
import PorticoCore
import PorticoTestSupport
import Testing

@testable import publisher

/// Runs the real publisher application (router, middleware, stores) against a fresh PostgreSQL
/// database, and gives tests a small JSON client for it.
enum PublisherHarness {
    static let adminPassword = "admin-secret"
    static let maxBodyBytes = 4096

    static func settings(_ url: DatabaseURL) throws -> PublisherSettings {
        try PublisherSettings(
            source: SettingsSource(values: [
                "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)",
                "PORTICO_ADMIN_PASSWORD": adminPassword,
                "PORTICO_BCRYPT_COST": "4",
                "PORTICO_MAX_BODY_BYTES": "\(maxBodyBytes)",
                "PORTICO_MIGRATIONS_DIR": TestDatabase.migrationsDirectory.path,
                "PORTICO_DB_POOL_SIZE": "6",
            ])
        )
    }

    static func run(_ test: @escaping @Sendable (PublisherClient) async throws -> Void) async throws {
        try await runWithDatabase { client, _ in try await test(client) }
    }

    /// As `run`, with a client of the same database for what the test sets up directly.
    static func runWithDatabase(_ test: @escaping @Sendable (PublisherClient, Database) async throws -> Void) async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let app = try await buildApplication(settings: try settings(url), logger: TestDatabase.logger)
            try await app.test(.router) { client in
                let database = Database(url: url, poolSize: 2, logger: TestDatabase.logger)
                try await database.withRunningClient {
                    try await test(RESTClient(client: client, base: "/api/am/publisher/v4", username: "admin", password: adminPassword), database)
                }
            }
        }
    }
}

typealias PublisherClient = RESTClient

extension RESTClient {
    static let admin = "/api/am/admin/v4"

    /// Creates a user with the given roles (as admin) and returns a client signed in as them.
    func user(_ name: String, roles: [String]) async throws -> RESTClient {
        let reply = try await self.signedIn("admin", PublisherHarness.adminPassword).send(
            .post,
            "\(Self.admin)/users",
            json: #"{"username":"\#(name)","password":"password-1","roles":\#(jsonArray(roles))}"#
        )
        #expect(reply.status == .created, "creating user \(name): \(reply.text)")
        return self.signedIn(name)
    }

    /// Creates an API from the reference flow's fields, overridden by `fields`, and returns the reply.
    func createAPI(_ fields: [String: any Sendable] = [:]) async throws -> Reply {
        let data = try JSONSerialization.data(withJSONObject: fields.mapValues { $0 as Any })
        return try await createAPI(json: String(decoding: data, as: UTF8.self))
    }

    /// Creates an API from the reference flow's fields, overridden by the JSON object `overrides`
    /// (where `null` removes a field).
    func createAPI(json overrides: String) async throws -> Reply {
        var body: [String: Any] = [
            "name": "EchoWebSocket", "context": "/echowebsocket", "version": "1.0.0", "type": "WS",
            "policies": ["Gold", "Silver"], "isDefaultVersion": true, "visibility": "PUBLIC",
            "endpointConfig": [
                "endpoint_type": "ws",
                "production_endpoints": ["url": "ws://127.0.0.1:9100"],
                "sandbox_endpoints": ["url": "ws://127.0.0.1:9100"],
            ],
        ]
        let fields = try JSONSerialization.jsonObject(with: Data(overrides.utf8)) as? [String: Any] ?? [:]
        body.merge(fields) { _, new in new }
        let data = try JSONSerialization.data(withJSONObject: body.filter { !($0.value is NSNull) })
        return try await send(.post, "apis", json: String(decoding: data, as: UTF8.self))
    }

    func lifecycle(_ id: String, _ action: String, headers: HTTPFields = [:]) async throws -> Reply {
        let encoded = action.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        return try await send(.post, "apis/change-lifecycle?apiId=\(id)&action=\(encoded)", headers: headers)
    }
}

func jsonArray(_ values: [String]) -> String {
    "[" + values.map { "\"\($0)\"" }.joined(separator: ",") + "]"
}
