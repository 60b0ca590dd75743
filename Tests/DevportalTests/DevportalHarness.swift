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
    static let secretKey = SecretBox.randomKeyBase64()

    static func settings(_ url: DatabaseURL, extra: [String: String] = [:]) throws -> DevportalSettings {
        try DevportalSettings(source: SettingsSource(values: [
            "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)",
            "PORTICO_ADMIN_PASSWORD": "admin-secret",
            "PORTICO_BCRYPT_COST": "4",
            "PORTICO_MIGRATIONS_DIR": TestDatabase.migrationsDirectory.path,
            "PORTICO_DB_POOL_SIZE": "6",
            "PORTICO_SECRET_KEY": secretKey,
        ].merging(extra) { _, new in new }))
    }

    static func run(
        settings extra: [String: String] = [:], logger: Logger = TestDatabase.logger,
        _ test: @escaping @Sendable (DevportalClient, Provider) async throws -> Void
    ) async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let settings = try settings(url, extra: extra)
            let app = try await buildApplication(settings: settings, logger: logger)
            try await app.test(.router) { client in
                let database = Database(url: url, poolSize: 2, logger: TestDatabase.logger)
                try await database.withRunningClient {
                    try await test(DevportalClient(client: client, username: nil, password: nil),
                                   Provider(database: database, settings: settings))
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
    func api(_ name: String = "EchoWebSocket", context: String = "/echowebsocket", version: String = "1.0.0",
             plans: [String] = ["Gold", "Silver"], visibility: WebSocketAPI.Visibility = .public,
             actions: [LifecycleAction] = [.publish]) async throws -> WebSocketAPI {
        var api = try await apis.create(
            APISpec(name: name, context: context, version: version, isDefaultVersion: true, visibility: visibility, plans: plans,
                    productionEndpoint: "ws://127.0.0.1:9100", sandboxEndpoint: "ws://127.0.0.1:9101"),
            provider: "admin")
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

/// A client of the devportal, signed in as one user (or anonymous).
struct DevportalClient: Sendable {
    let client: any TestClientProtocol
    let username: String?
    let password: String?

    static let base = "/api/am/devportal/v3"

    func signedIn(_ username: String?, _ password: String? = "password-1") -> DevportalClient {
        DevportalClient(client: client, username: username, password: password)
    }

    /// Signs up `name` (password `password-1`) and returns a client signed in as them.
    func developer(_ name: String) async throws -> DevportalClient {
        let reply = try await signedIn(nil).send(.post, "signup", json: #"{"username":"\#(name)","password":"password-1","email":"\#(name)@example.com"}"#)
        #expect(reply.status == .created, "signing up \(name): \(reply.text)")
        return signedIn(name)
    }

    @discardableResult
    func send(_ method: HTTPRequest.Method, _ path: String, json: String? = nil, form: String? = nil, headers: HTTPFields = [:]) async throws -> Reply {
        var headers = headers
        if let username, let password, headers[.authorization] == nil {
            headers[.authorization] = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        if form != nil, headers[.contentType] == nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let uri = path.hasPrefix("/") ? path : "\(Self.base)/\(path)"
        let body = (json ?? form).map { ByteBuffer(string: $0) }
        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body)
        return Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
    }

    func createApplication(_ name: String = "EchoClient", plan: String = "Unlimited") async throws -> String {
        let reply = try await send(.post, "applications", json: #"{"name":"\#(name)","throttlingPolicy":"\#(plan)","description":"d","tokenType":"JWT"}"#)
        #expect(reply.status == .created, "\(reply.text)")
        return reply.json["applicationId"] as? String ?? ""
    }

    func subscribe(_ applicationID: String, to apiID: String, plan: String = "Gold") async throws -> Reply {
        try await send(.post, "subscriptions", json: #"{"applicationId":"\#(applicationID)","apiId":"\#(apiID)","throttlingPolicy":"\#(plan)"}"#)
    }

    /// Generates keys of `keyType` and returns the reply's JSON (consumer key, secret, token).
    func generateKeys(_ applicationID: String, keyType: String = "PRODUCTION") async throws -> [String: Any] {
        let reply = try await send(.post, "applications/\(applicationID)/generate-keys",
                                   json: #"{"keyType":"\#(keyType)","grantTypesToBeSupported":["client_credentials"],"validityTime":3600}"#)
        #expect(reply.status == .ok, "\(reply.text)")
        return reply.json
    }

    /// `POST /oauth2/token` with HTTP Basic client authentication.
    func token(_ consumerKey: String, _ secret: String, form: String = "grant_type=client_credentials") async throws -> Reply {
        try await signedIn(nil).send(.post, "/oauth2/token", form: form, headers: [
            .authorization: "Basic " + Data("\(consumerKey):\(secret)".utf8).base64EncodedString(),
        ])
    }
}

struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    subscript(_ key: String) -> Any? { json[key] }

    func expectError(_ status: HTTPResponse.Status, mentioning words: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        #expect(json["code"] as? Int == status.code, "\(text)", sourceLocation: sourceLocation)
        #expect(json["description"] is String, sourceLocation: sourceLocation)
        let all = "\(json["message"] ?? "") \(json["description"] ?? "")"
        for word in words { #expect(all.contains(word), "'\(word)' not in \(all)", sourceLocation: sourceLocation) }
    }

    /// An RFC 6749 §5.2 error: `{error, error_description}` and no caching.
    func expectOAuthError(_ status: HTTPResponse.Status, _ error: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        #expect(json["error"] as? String == error, "\(text)", sourceLocation: sourceLocation)
        #expect(json["error_description"] is String, sourceLocation: sourceLocation)
        #expect(headers[.cacheControl] == "no-store", sourceLocation: sourceLocation)
    }
}

/// A log handler that keeps every line, so a test can show that no secret was logged.
final class CapturedLog: LogHandler, @unchecked Sendable {
    private let lines = NIOLockedValueBox<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let merged = metadata.merging(extra ?? [:]) { _, new in new }
        lines.withLockedValue { $0.append("\(level) \(message) \(merged)") }
    }

    var text: String { lines.withLockedValue { $0.joined(separator: "\n") } }
}
