import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import Testing

@testable import devportal

/// What an outside security test found in the devportal, pinned on the real router and PostgreSQL.
@Suite struct DevportalHardeningTests {
    /// The anonymous catalog and a developer's applications page without overflow, whatever the
    /// offset and limit (an offset of Int.max used to stop the process).
    @Test func pagesCannotOverflow() async throws {
        try await DevportalHarness.run { client, provider in
            try await provider.api()
            let dev = try await client.developer("dev")
            _ = try await dev.createApplication()
            var generator = SystemRandomNumberGenerator()
            var pairs = ["9223372036854775807", "10000000", "10000001", "-1", "0"].flatMap { offset in ["1", "1000", "1001"].map { (offset, $0) } }
            pairs += (0..<20).map { _ in
                (String(Int.random(in: Int.min...Int.max, using: &generator)), String(Int.random(in: 0...1500, using: &generator)))
            }
            for (offset, limit) in pairs {
                for reply in [
                    try await client.send(.get, "apis?offset=\(offset)&limit=\(limit)"),
                    try await dev.send(.get, "applications?offset=\(offset)&limit=\(limit)"),
                ] {
                    if reply.status != .ok { reply.expectError(.badRequest) }
                }
            }
            #expect(try await client.send(.get, "apis?offset=\(PageRequest.maxOffset)&limit=1000")["count"].int == 0)
        }
    }

    /// `PORTICO_MAX_BODY_BYTES` bounds every body the devportal reads, JSON and OAuth2 forms alike
    /// (the limit reaches the handlers on the request context).
    @Test func bodiesOverTheLimitAre413() async throws {
        try await DevportalHarness.run(settings: ["PORTICO_MAX_BODY_BYTES": "2048"]) { client, _ in
            let dev = try await client.developer("dev")
            let big = #"{"name":"App","throttlingPolicy":"Unlimited","description":""# + String(repeating: "a", count: 2048) + #""}"#
            try await dev.send(.post, "applications", json: big).expectError(.contentTooLarge, mentioning: "2048 bytes")
            let form = "grant_type=client_credentials&scope=" + String(repeating: "a", count: 2048)
            let reply = try await client.signedIn(nil).send(.post, "/oauth2/token", form: form)
            #expect(reply.status == .contentTooLarge)
            #expect(reply["error"].string == "invalid_request")
            #expect(
                try await dev.send(.post, "applications", json: #"{"name":"App","throttlingPolicy":"Unlimited"}"#).status == .created,
                "a body under the limit passes"
            )
        }
    }

    /// Every text field of every JSON body the devportal accepts refuses a control character with a
    /// 400 naming the field; nothing reaches PostgreSQL (a NUL in an email used to be a 500).
    @Test func controlCharactersInAnyJSONTextAreRefusedByField() async throws {
        try await DevportalHarness.run { client, provider in
            let api = try await provider.api()
            let dev = try await client.developer("dev")
            let applicationID = try await dev.createApplication()
            let keys = try await dev.generateKeys(applicationID)
            let keyMapping = keys.keyMappingId
            let application = #"{"name":"EchoClient2","throttlingPolicy":"Unlimited","description":"wscat","tokenType":"JWT"}"#
            let bodies: [(HTTPRequest.Method, String, String)] = [
                (.post, "signup", #"{"username":"eve","password":"eve-password","email":"eve@example.com"}"#),
                (.post, "applications", application),
                (.put, "applications/\(applicationID)", application),
                (.post, "subscriptions", #"{"applicationId":"\#(applicationID)","apiId":"\#(api.id)","throttlingPolicy":"Gold"}"#),
                (
                    .post, "applications/\(applicationID)/generate-keys",
                    #"{"keyType":"SANDBOX","grantTypesToBeSupported":["client_credentials"],"validityTime":3600,"scopes":["default"]}"#
                ),
                (
                    .post, "applications/\(applicationID)/oauth-keys/\(keyMapping)/generate-token",
                    #"{"consumerSecret":"\#(keys.consumerSecret)","validityPeriod":3600,"scopes":["default"]}"#
                ),
            ]
            for (method, path, body) in bodies {
                try await dev.expectControlCharactersRefused(method, path, body: body)
            }
            #expect(try await provider.query("SELECT count(*)::int FROM users WHERE username = 'eve'", as: Int.self) == [0])
        }
    }

    /// A control character in the search, the path, Basic credentials or OAuth2 client credentials:
    /// 400 naming the parameter, 401 (`invalid_client` for OAuth2) for credentials; never a 500.
    @Test func controlCharactersElsewhereAreRefused() async throws {
        try await DevportalHarness.run { client, provider in
            try await provider.api()
            let dev = try await client.developer("dev")
            let applicationID = try await dev.createApplication()
            let keys = try await dev.generateKeys(applicationID)
            let consumerKey = keys.consumerKey
            for scalar in ControlCharacters.refused {
                let encoded = String(scalar).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                try await client.send(.get, "apis?query=Echo\(encoded)").expectError(.badRequest, mentioning: "'query'")
                try await client.send(.get, "apis/\(encoded)").expectError(.badRequest, mentioning: "path")
                try await client.signedIn("dev\(String(scalar))").send(.get, "applications").expectError(.unauthorized)
                try await client.token("\(consumerKey)\(String(scalar))", "secret").expectOAuthError(.unauthorized, "invalid_client")
                try await client.token("%00\(consumerKey)", "secret").expectOAuthError(.unauthorized, "invalid_client")
                try await client.signedIn(nil).send(
                    .post,
                    "/oauth2/token",
                    form: "grant_type=client_credentials&client_id=\(encoded)\(consumerKey)&client_secret=x"
                )
                .expectOAuthError(.unauthorized, "invalid_client")
                try await client.signedIn(nil).send(
                    .post,
                    "/oauth2/token",
                    form: "grant_type=client_credentials\(encoded)&client_id=\(consumerKey)&client_secret=x"
                )
                .expectOAuthError(.badRequest, "invalid_request")
            }
        }
    }
}
