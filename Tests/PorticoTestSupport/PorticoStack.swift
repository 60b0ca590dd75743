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
    /// The gateway's connection management API.
    var managementURL: String { get }
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

extension PorticoStack {
    /// The publisher over real sockets, signed in as the admin (base: the publisher API).
    package var publisherAPI: RESTClient {
        RESTClient(
            SocketTransport(publisherURL.replacingOccurrences(of: RESTClient.publisherBase, with: "")),
            base: RESTClient.publisherBase,
            username: "admin",
            password: TestSettings.adminPassword
        )
    }

    /// The devportal over real sockets, signed in as the developer `dev` (base: the devportal API).
    package var devportalAPI: RESTClient {
        RESTClient(SocketTransport(devportalURL), base: RESTClient.devportalBase, username: "dev", password: RESTClient.userPassword)
    }

    /// The admin's and the developer's Basic authorization header, for requests sent by hand.
    package var admin: [String: String] { HTTP.basic("admin", TestSettings.adminPassword) }
    package var dev: [String: String] { HTTP.basic("dev", RESTClient.userPassword) }

    /// Publishes EchoWebSocket, signs up the developer, subscribes their application, gets its keys.
    package func prepare() async throws {
        apiID = try await createAPI(name: "EchoWebSocket", context: "/echowebsocket", version: "1.0.0", isDefault: true)
        try await lifecycle(apiID, "Publish")
        _ = try await devportalAPI.developer("dev")
        applicationID = try await devportalAPI.createApplication("EchoClient")
        try await subscribe(applicationID, to: apiID)
        let keys = try await devportalAPI.generateKeys(applicationID)
        (consumerKey, consumerSecret, token) = (keys.consumerKey, keys.consumerSecret, keys.token.accessToken)
        try await settle()
    }

    /// Waits until the gateway has taken in every change made so far: until its snapshot includes
    /// the last change in the change log at this call.
    package func settle() async throws {
        let last = try await TestDatabase.lastChange(databaseURL)
        let settled = try await eventually(within: 20, every: .milliseconds(20)) {
            (HTTP.json(try await HTTP.send("GET", "\(self.adminURL)/health/ready").body)["snapshotSeq"].int).map { $0 >= last } ?? false
        }
        guard settled else { throw TestSetupError("the gateway did not apply change \(last)") }
    }

    /// Waits (at most `seconds`) for a snapshot whose load began after `instant`, without asking
    /// for one: for a test of what a change itself announces.
    package func waitForSnapshot(after instant: Date, within seconds: Double = 20) async throws {
        let loaded = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let settled = try await eventually(within: seconds, every: .milliseconds(20)) {
            let health = HTTP.json(try await HTTP.send("GET", "\(self.adminURL)/health/ready").body)
            guard let text = health["snapshotLoadedAt"].string, let at = try? loaded.parse(text) else { return false }
            return at > instant
        }
        guard settled else { throw TestSetupError("the gateway loaded no snapshot after \(instant)") }
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
        let reply = try await publisherAPI.createAPI(
            json: """
                {"name":"\(name)","context":"\(context)","version":"\(version)","policies":\(jsonArray(plans)),"isDefaultVersion":\(isDefault),
                 "endpointConfig":\(endpoints)\(extra.isEmpty ? "" : "," + extra)}
                """
        )
        #expect(reply.status == .created, "\(reply.text)")
        return reply.id
    }

    package func lifecycle(_ id: String, _ action: String) async throws {
        let reply = try await publisherAPI.lifecycle(id, action)
        #expect(reply.status == .ok, "\(reply.text)")
    }

    package func createApplication(_ name: String, plan: String = "Unlimited") async throws -> String {
        try await devportalAPI.createApplication(name, plan: plan)
    }

    /// The admin API (business plans).
    package var adminAPIURL: String { publisherURL.replacingOccurrences(of: "/publisher/", with: "/admin/") }

    /// Creates a subscription business plan from its admin JSON; returns its id.
    @discardableResult
    package func createPlan(_ json: String) async throws -> String {
        let reply = try await publisherAPI.createPlan(json: json)
        #expect(reply.status == .created, "\(reply.text)")
        return reply["policyId"].string ?? ""
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
        let reply = try await devportalAPI.subscribe(applicationID, to: apiID, plan: plan)
        #expect(reply.status == .created, "\(reply.text)")
        return reply["subscriptionId"].string ?? ""
    }

    /// Waits (at most 3 s) until the gateway counts `count` open connections.
    package func waitForActiveConnections(_ count: Int) async throws {
        try await eventually(within: 3, every: .milliseconds(20)) {
            HTTP.json(try await HTTP.send("GET", "\(self.adminURL)/health/ready").body)["activeConnections"].int == count
        }
    }

    /// Another access token for the application's production keys (client credentials grant).
    package func newToken() async throws -> String {
        let reply = try await devportalAPI.token(consumerKey, consumerSecret)
        #expect(reply.status == .ok, "\(reply.text)")
        return reply["access_token"].string ?? ""
    }

    package func revoke(_ token: String) async throws {
        #expect(try await devportalAPI.revoke(token, consumerKey, consumerSecret).status == .ok)
    }
}
