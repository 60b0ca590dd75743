import Foundation
import Hummingbird
import Testing

/// The reference flow, written once: the provider creates and publishes an API, a developer signs
/// up, creates an application, subscribes it and gets keys and tokens. Every call is a REST call
/// of a `RESTClient`, so the same words drive a service's router in this process and running
/// services over real sockets. Answers are `Reply`s (read with `JSON`, or decoded).
extension RESTClient {
    package static let publisherBase = "/api/am/publisher/v4"
    package static let adminBase = "/api/am/admin/v4"
    package static let devportalBase = "/api/am/devportal/v3"
    /// The admin's subscription business plans.
    package static let subscriptionPlans = adminBase + "/throttling-policies/subscription"

    /// The password every user a test creates gets.
    package static let userPassword = "password-1"

    // MARK: The provider (a publisher client)

    /// Creates a user with `roles` (as the admin) and returns a client signed in as them.
    package func user(_ name: String, roles: [String]) async throws -> RESTClient {
        let reply = try await signedIn("admin", TestSettings.adminPassword)
            .send(
                .post,
                "\(Self.adminBase)/users",
                json: #"{"username":"\#(name)","password":"\#(Self.userPassword)","roles":\#(jsonArray(roles))}"#
            )
        #expect(reply.status == .created, "creating user \(name): \(reply.text)")
        return signedIn(name)
    }

    /// The reference flow's API (EchoWebSocket 1.0.0 at /echowebsocket, plans Gold and Silver, both
    /// endpoints the echo backend on 9100) with the members of the JSON object `overrides` put over
    /// it (`null` removes one).
    package static func referenceAPI(_ overrides: String = "{}") throws -> String {
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
        let data = try JSONSerialization.data(withJSONObject: body.filter { !($0.value is NSNull) }, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Creates the reference flow's API with `overrides` (see `referenceAPI`).
    package func createAPI(json overrides: String = "{}") async throws -> Reply {
        try await send(.post, "\(Self.publisherBase)/apis", json: try Self.referenceAPI(overrides))
    }

    /// Creates the reference flow's API with `fields` put over it.
    package func createAPI(_ fields: [String: any Sendable]) async throws -> Reply {
        let data = try JSONSerialization.data(withJSONObject: fields.mapValues { $0 as Any })
        return try await createAPI(json: String(decoding: data, as: UTF8.self))
    }

    /// `POST /apis/change-lifecycle?apiId=…&action=…`.
    package func lifecycle(_ id: String, _ action: String, headers: HTTPFields = [:]) async throws -> Reply {
        let encoded = action.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        return try await send(.post, "\(Self.publisherBase)/apis/change-lifecycle?apiId=\(id)&action=\(encoded)", headers: headers)
    }

    /// Creates a subscription business plan from its admin JSON.
    package func createPlan(json: String) async throws -> Reply {
        try await send(.post, Self.subscriptionPlans, json: json)
    }

    // MARK: The developer (a devportal client)

    /// Signs up `name` and returns a client signed in as them.
    package func developer(_ name: String) async throws -> RESTClient {
        let reply = try await signedIn(nil)
            .send(
                .post,
                "\(Self.devportalBase)/signup",
                json: #"{"username":"\#(name)","password":"\#(Self.userPassword)","email":"\#(name)@example.com"}"#
            )
        #expect(reply.status == .created, "signing up \(name): \(reply.text)")
        return signedIn(name, Self.userPassword)
    }

    /// Creates an application; returns its id.
    package func createApplication(_ name: String = "EchoClient", plan: String = "Unlimited") async throws -> String {
        let reply = try await send(
            .post,
            "\(Self.devportalBase)/applications",
            json: #"{"name":"\#(name)","throttlingPolicy":"\#(plan)","description":"d","tokenType":"JWT"}"#
        )
        #expect(reply.status == .created, "\(reply.text)")
        return reply["applicationId"].string ?? ""
    }

    package func subscribe(_ applicationID: String, to apiID: String, plan: String = "Gold") async throws -> Reply {
        try await send(
            .post,
            "\(Self.devportalBase)/subscriptions",
            json: #"{"applicationId":"\#(applicationID)","apiId":"\#(apiID)","throttlingPolicy":"\#(plan)"}"#
        )
    }

    /// Generates keys of `keyType`: the consumer key and secret and a first token.
    package func generateKeys(_ applicationID: String, keyType: String = "PRODUCTION") async throws -> GeneratedKeys {
        let reply = try await send(
            .post,
            "\(Self.devportalBase)/applications/\(applicationID)/generate-keys",
            json: #"{"keyType":"\#(keyType)","grantTypesToBeSupported":["client_credentials"],"validityTime":3600}"#
        )
        #expect(reply.status == .ok, "\(reply.text)")
        return try reply.decode(GeneratedKeys.self)
    }

    /// `POST /oauth2/token` with HTTP Basic client authentication.
    package func token(_ consumerKey: String, _ secret: String, form: String = "grant_type=client_credentials") async throws -> Reply {
        try await signedIn(nil)
            .send(
                .post,
                "/oauth2/token",
                form: form,
                headers: [.authorization: "Basic " + Data("\(consumerKey):\(secret)".utf8).base64EncodedString()]
            )
    }

    /// `POST /oauth2/revoke` with HTTP Basic client authentication.
    package func revoke(_ token: String, _ consumerKey: String, _ secret: String) async throws -> Reply {
        try await signedIn(nil)
            .send(
                .post,
                "/oauth2/revoke",
                form: "token=\(token)",
                headers: [.authorization: "Basic " + Data("\(consumerKey):\(secret)".utf8).base64EncodedString()]
            )
    }
}

/// What `generate-keys` answers.
package struct GeneratedKeys: Decodable, Sendable {
    package let keyMappingId: String
    package let keyType: String
    package let consumerKey: String
    package let consumerSecret: String
    package let supportedGrantTypes: [String]
    package let token: Token

    package struct Token: Decodable, Sendable {
        package let accessToken: String
        package let validityTime: Int
    }
}

/// `["a","b"]`, for a JSON body written by hand.
package func jsonArray(_ values: [String]) -> String {
    "[" + values.map { "\"\($0)\"" }.joined(separator: ",") + "]"
}
