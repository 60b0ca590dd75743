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
        try PublisherSettings(source: SettingsSource(values: [
            "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)",
            "PORTICO_ADMIN_PASSWORD": adminPassword,
            "PORTICO_BCRYPT_COST": "4",
            "PORTICO_MAX_BODY_BYTES": "\(maxBodyBytes)",
            "PORTICO_MIGRATIONS_DIR": TestDatabase.migrationsDirectory.path,
            "PORTICO_DB_POOL_SIZE": "6",
        ]))
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
                    try await test(PublisherClient(client: client, username: "admin", password: adminPassword), database)
                }
            }
        }
    }
}

/// A JSON client of the publisher, signed in as one user.
struct PublisherClient: Sendable {
    let client: any TestClientProtocol
    let username: String?
    let password: String?

    static let base = "/api/am/publisher/v4"
    static let admin = "/api/am/admin/v4"

    /// The same client signed in as someone else (nil: anonymous).
    func signedIn(_ username: String?, _ password: String? = "password-1") -> PublisherClient {
        PublisherClient(client: client, username: username, password: password)
    }

    @discardableResult
    func send(_ method: HTTPRequest.Method, _ path: String, json: String? = nil, headers: HTTPFields = [:]) async throws -> Reply {
        var headers = headers
        if let username, let password, headers[.authorization] == nil {
            headers[.authorization] = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let uri = path.hasPrefix("/") ? path : "\(Self.base)/\(path)"
        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        return Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
    }

    /// Creates a user with the given roles (as admin) and returns a client signed in as them.
    func user(_ name: String, roles: [String]) async throws -> PublisherClient {
        let reply = try await self.signedIn("admin", PublisherHarness.adminPassword).send(
            .post, "\(Self.admin)/users", json: #"{"username":"\#(name)","password":"password-1","roles":\#(jsonArray(roles))}"#)
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

struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data

    var text: String { String(decoding: body, as: UTF8.self) }

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }

    subscript(_ key: String) -> Any? { json[key] }

    var id: String { json["id"] as? String ?? "" }

    /// Checks that this is a Portico error: JSON `{code, message, description}` with `status`.
    func expectError(_ status: HTTPResponse.Status, mentioning words: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        #expect(headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        #expect(json["code"] as? Int == status.code, "\(text)", sourceLocation: sourceLocation)
        #expect(json["message"] is String, sourceLocation: sourceLocation)
        #expect(json["description"] is String, sourceLocation: sourceLocation)
        let all = "\(json["message"] ?? "") \(json["description"] ?? "")"
        for word in words {
            #expect(all.contains(word), "'\(word)' not in \(all)", sourceLocation: sourceLocation)
        }
    }
}
