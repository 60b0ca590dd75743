import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import PorticoCore
import Testing
import WebSocketKit

/// A running Portico — publisher, devportal, gateway and echo backend on one fresh database —
/// with EchoWebSocket 1.0.0 published (plans Gold and Silver, production endpoint the echo
/// backend, no sandbox endpoint) and a developer whose application is subscribed with Gold. Two
/// kinds run one: `GatewayStack` (the built binaries as processes) and `InProcessStack` (the same
/// services in the test's process); the tests speak to both over real sockets, through these calls.
package protocol PorticoStack: AnyObject, Sendable {
    var publisherURL: String { get }
    var devportalURL: String { get }
    var gatewayURL: String { get }
    var adminURL: String { get }
    var echoPort: Int { get }
    var apiID: String { get set }
    var applicationID: String { get set }
    var token: String { get set }
    var consumerKey: String { get set }
    var consumerSecret: String { get set }
    /// What the echo backend printed (every close it received: `close <code> <reason>`).
    var echoOutput: String { get }
    /// The gateway's connection log so far (one JSON line per connection or refusal).
    var connectionLogOutput: String { get }
    /// The stack's database.
    var databaseURL: DatabaseURL { get }
}

package enum StackCredentials {
    package static let adminPassword = "e2e-admin-pw"
    /// The key both services seal secrets with (signing keys) in one test run.
    package static let secretKey = SecretBox.randomKeyBase64()

    /// The settings a stack's services share: the database, free ports for the publisher, the
    /// devportal, the gateway and its admin port, fast bcrypt, the admin's password.
    package static func environment(_ url: DatabaseURL, extra: [String: String] = [:]) -> [String: String] {
        let ports = (0..<4).map { _ in ServiceProcess.freePort() }
        return [
            "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)",
            "PORTICO_BCRYPT_COST": "4", "PORTICO_MIGRATIONS_DIR": TestDatabase.migrationsDirectory.path, "PORTICO_LOG_LEVEL": "warning",
            "PORTICO_ADMIN_PASSWORD": adminPassword, "PORTICO_SECRET_KEY": secretKey,
            "PUBLISHER_PORT": "\(ports[0])", "DEVPORTAL_PORT": "\(ports[1])", "GATEWAY_PORT": "\(ports[2])",
            "GATEWAY_ADMIN_PORT": "\(ports[3])", "GATEWAY_BIND_ADDRESS": "127.0.0.1", "GATEWAY_DRAIN_SECONDS": "1",
        ].merging(extra) { _, new in new }
    }
}

extension PorticoStack {
    package var admin: [String: String] { HTTP.basic("admin", StackCredentials.adminPassword) }
    package var dev: [String: String] { HTTP.basic("dev", "dev-password") }

    /// Publishes EchoWebSocket, signs up the developer, subscribes their application, gets its keys.
    package func prepare() async throws {
        apiID = try await createAPI(name: "EchoWebSocket", context: "/echowebsocket", version: "1.0.0", isDefault: true)
        try await lifecycle(apiID, "Publish")
        #expect(
            try await HTTP.send(
                "POST",
                "\(devportalURL)/api/am/devportal/v3/signup",
                body: #"{"username":"dev","password":"dev-password"}"#
            ).status == 201
        )
        applicationID = try await createApplication("EchoClient")
        try await subscribe(applicationID, to: apiID)
        (consumerKey, consumerSecret, token) = try await keys(for: applicationID, type: "PRODUCTION")
        try await settle()
    }

    /// Waits until the gateway has taken in every change made so far: asks it for a new snapshot
    /// (a NOTIFY, as every change sends) and waits for one whose load began after this call.
    package func settle() async throws {
        let now = Date()
        try await TestDatabase.notifyChanges(databaseURL)
        let loaded = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let settled = try await eventually(within: 20, every: .milliseconds(20)) {
            let health = HTTP.json(try await HTTP.send("GET", "\(self.adminURL)/health/ready").body)
            guard let text = health["snapshotLoadedAt"] as? String, let at = try? loaded.parse(text) else { return false }
            return at > now
        }
        guard settled else { throw TestSetupError("the gateway loaded no snapshot after \(now)") }
    }

    /// Creates an API offering `plans`. `endpointConfig` (JSON) replaces the one made of `endpoint`,
    /// `sandbox` and `caFile`; `extra` adds top-level JSON members (`"limits":{…}`).
    package func createAPI(
        name: String,
        context: String,
        version: String,
        isDefault: Bool = false,
        sandbox: Bool = false,
        endpoint: String? = nil,
        caFile: String? = nil,
        plans: [String] = ["Gold", "Silver"],
        extra: String = "",
        endpointConfig: String? = nil
    ) async throws -> String {
        let production = endpoint ?? "ws://127.0.0.1:\(echoPort)"
        let sandboxPart = (sandbox ? #","sandbox_endpoints":{"url":"\#(production)"}"# : "") + (caFile.map { #","ca_file":"\#($0)""# } ?? "")
        let endpoints = endpointConfig ?? #"{"endpoint_type":"ws","production_endpoints":{"url":"\#(production)"}\#(sandboxPart)}"#
        let policies = plans.map { "\"\($0)\"" }.joined(separator: ",")
        let (status, body) = try await HTTP.send(
            "POST",
            "\(publisherURL)/apis",
            body: """
                {"name":"\(name)","context":"\(context)","version":"\(version)","policies":[\(policies)],"isDefaultVersion":\(isDefault),
                 "endpointConfig":\(endpoints)\(extra.isEmpty ? "" : "," + extra)}
                """,
            headers: admin
        )
        #expect(status == 201, "\(String(decoding: body, as: UTF8.self))")
        return HTTP.json(body)["id"] as? String ?? ""
    }

    package func lifecycle(_ id: String, _ action: String) async throws {
        let encoded = action.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let (status, body) = try await HTTP.send("POST", "\(publisherURL)/apis/change-lifecycle?apiId=\(id)&action=\(encoded)", headers: admin)
        #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
    }

    package func createApplication(_ name: String, plan: String = "Unlimited") async throws -> String {
        let (_, body) = try await HTTP.send(
            "POST",
            "\(devportalURL)/api/am/devportal/v3/applications",
            body: #"{"name":"\#(name)","throttlingPolicy":"\#(plan)"}"#,
            headers: dev
        )
        return HTTP.json(body)["applicationId"] as? String ?? ""
    }

    /// The admin API (business plans).
    package var adminAPIURL: String { publisherURL.replacingOccurrences(of: "/publisher/", with: "/admin/") }

    /// Creates a subscription business plan from its admin JSON; returns its id.
    @discardableResult
    package func createPlan(_ json: String) async throws -> String {
        let (status, body) = try await HTTP.send("POST", "\(adminAPIURL)/throttling-policies/subscription", body: json, headers: admin)
        #expect(status == 201, "\(String(decoding: body, as: UTF8.self))")
        return HTTP.json(body)["policyId"] as? String ?? ""
    }

    /// Creates and publishes `name` 1 at context `/<name in lower case>` (see `createAPI`).
    package func publishAPI(_ name: String, plans: [String], extra: String = "", endpointConfig: String? = nil) async throws -> String {
        let id = try await createAPI(
            name: name,
            context: "/\(name.lowercased())",
            version: "1",
            plans: plans,
            extra: extra,
            endpointConfig: endpointConfig
        )
        try await lifecycle(id, "Publish")
        return id
    }

    /// Creates API `name` 1 at `/<name in lower case>` with plan Gold on `endpoint`, publishes it,
    /// subscribes the developer's application and waits until the gateway has it; returns its id.
    @discardableResult
    package func serve(_ name: String, endpoint: String, extra: String = "") async throws -> String {
        let id = try await createAPI(
            name: name,
            context: "/\(name.lowercased())",
            version: "1",
            endpoint: endpoint,
            plans: ["Gold"],
            extra: extra
        )
        try await lifecycle(id, "Publish")
        try await subscribe(applicationID, to: id)
        try await settle()
        return id
    }

    /// Opens `path` by hand with the token; returns the connection once the 101 is in.
    package func open(_ path: String) async throws -> RawConnection {
        let connection = try await RawConnection(gatewayURL)
        try await connection.send(RawConnection.upgradeRequest("\(path)?access_token=\(token)"))
        #expect(await eventually(within: 5) { connection.text.contains("\r\n\r\n") })
        #expect(connection.response.head.hasPrefix("HTTP/1.1 101"), "\(connection.response.head)")
        return connection
    }

    /// Whether the echo backend printed `text` (it prints the close frames it receives) within `seconds`.
    package func echoPrinted(_ text: String, within seconds: Double = 5) async -> Bool {
        await eventually(within: seconds) { self.echoOutput.contains(text) }
    }

    @discardableResult
    package func subscribe(_ applicationID: String, to apiID: String, plan: String = "Gold") async throws -> String {
        let (status, body) = try await HTTP.send(
            "POST",
            "\(devportalURL)/api/am/devportal/v3/subscriptions",
            body: #"{"applicationId":"\#(applicationID)","apiId":"\#(apiID)","throttlingPolicy":"\#(plan)"}"#,
            headers: dev
        )
        #expect(status == 201, "\(String(decoding: body, as: UTF8.self))")
        return HTTP.json(body)["subscriptionId"] as? String ?? ""
    }

    /// Generates keys of `type` for the application: (consumer key, secret, first token).
    package func keys(for applicationID: String, type: String) async throws -> (String, String, String) {
        let (_, body) = try await HTTP.send(
            "POST",
            "\(devportalURL)/api/am/devportal/v3/applications/\(applicationID)/generate-keys",
            body: #"{"keyType":"\#(type)"}"#,
            headers: dev
        )
        let json = HTTP.json(body)
        return (
            json["consumerKey"] as? String ?? "", json["consumerSecret"] as? String ?? "",
            (json["token"] as? [String: Any])?["accessToken"] as? String ?? ""
        )
    }

    /// Waits (at most 3 s) until the gateway counts `count` open connections.
    package func waitForActiveConnections(_ count: Int) async throws {
        try await eventually(within: 3, every: .milliseconds(20)) {
            HTTP.json(try await HTTP.send("GET", "\(self.adminURL)/health/ready").body)["activeConnections"] as? Int == count
        }
    }

    /// Another access token for the application's production keys (client credentials grant).
    package func newToken() async throws -> String {
        let (status, body) = try await HTTP.send(
            "POST",
            "\(devportalURL)/oauth2/token",
            body: "grant_type=client_credentials",
            headers: HTTP.basic(consumerKey, consumerSecret).merging(["Content-Type": "application/x-www-form-urlencoded"]) { a, _ in a }
        )
        #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
        return HTTP.json(body)["access_token"] as? String ?? ""
    }

    package func revoke(_ token: String) async throws {
        let (status, _) = try await HTTP.send(
            "POST",
            "\(devportalURL)/oauth2/revoke",
            body: "token=\(token)",
            headers: HTTP.basic(consumerKey, consumerSecret).merging(["Content-Type": "application/x-www-form-urlencoded"]) { a, _ in a }
        )
        #expect(status == 200)
    }
}
