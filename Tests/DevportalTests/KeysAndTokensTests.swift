import Foundation
import Hummingbird
import Logging
import PorticoCore
import PorticoTestSupport
import Testing

@testable import devportal

@Suite struct KeysAndTokensTests {
    @Test func keyGenerationRulesAndSecretHandling() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let dev = try await anonymous.developer("dev")
            let app = try await dev.createApplication()
            try await dev.send(.post, "applications/\(app)/generate-keys", json: #"{"keyType":"STAGING"}"#).expectError(
                .badRequest,
                mentioning: "'keyType'"
            )
            try await dev.send(.post, "applications/\(app)/generate-keys", json: #"{"keyType":"PRODUCTION","grantTypesToBeSupported":["password"]}"#)
                .expectError(.badRequest, mentioning: "'grantTypesToBeSupported'")
            try await dev.send(.post, "applications/\(app)/generate-keys", json: #"{"keyType":"PRODUCTION","validityTime":999999999}"#)
                .expectError(.badRequest, mentioning: "'validityTime'")
            let keys = try await dev.generateKeys(app)
            try await dev.send(.post, "applications/\(app)/generate-keys", json: #"{"keyType":"PRODUCTION"}"#).expectError(.conflict)
            let sandbox = try await dev.generateKeys(app, keyType: "SANDBOX")
            #expect(sandbox.keyType == "SANDBOX")

            let listed = try await dev.send(.get, "applications/\(app)/oauth-keys")
            #expect(listed.json["count"].int == 2)
            #expect(!listed.text.contains("consumerSecret"), "the secret is shown only once")
            let secret = keys.consumerSecret
            let mapping = keys.keyMappingId
            let consumerKey = keys.consumerKey

            let hashes = try await provider.query("SELECT secret_hash FROM application_keys", as: String.self)
            #expect(hashes.count == 2)
            for hash in hashes {
                #expect(hash.hasPrefix("$2"), "bcrypt hash")
                #expect(!hash.contains(secret))
            }

            try await dev.send(.post, "applications/\(app)/oauth-keys/\(mapping)/generate-token", json: #"{"consumerSecret":"wrong"}"#)
                .expectError(.badRequest, mentioning: "'consumerSecret'")
            let regenerated = try await dev.send(.post, "applications/\(app)/oauth-keys/\(mapping)/regenerate-secret")
            #expect(regenerated.status == .ok)
            let newSecret = try #require(regenerated["consumerSecret"].string)
            #expect(newSecret != secret)
            try await dev.token(consumerKey, secret).expectOAuthError(.unauthorized, "invalid_client")
            #expect(try await dev.token(consumerKey, newSecret).status == .ok)
        }
    }

    @Test func tokenEndpointAnswersAsRFC6749Says() async throws {
        try await DevportalHarness.run { anonymous, _ in
            let dev = try await anonymous.developer("dev")
            let keys = try await dev.generateKeys(try await dev.createApplication())
            let id = keys.consumerKey
            let secret = keys.consumerSecret

            try await dev.token(id, secret, form: "grant_type=password&username=a&password=b").expectOAuthError(.badRequest, "unsupported_grant_type")
            try await dev.token(id, secret, form: "scope=x").expectOAuthError(.badRequest, "invalid_request")
            try await dev.token(id, secret, form: "grant_type=client_credentials&scope=%22bad%22").expectOAuthError(.badRequest, "invalid_scope")
            try await dev.token(id, secret, form: "grant_type=client_credentials&grant_type=client_credentials")
                .expectOAuthError(.badRequest, "invalid_request")
            try await dev.token(id, secret, form: "grant_type=client_credentials&client_secret=\(secret)").expectOAuthError(
                .badRequest,
                "invalid_request"
            )
            let json = try await dev.signedIn(nil).send(.post, "/oauth2/token", json: #"{"grant_type":"client_credentials"}"#)
            json.expectOAuthError(.badRequest, "invalid_request")
            let anonymousClient = try await dev.signedIn(nil).send(.post, "/oauth2/token", form: "grant_type=client_credentials")
            anonymousClient.expectOAuthError(.unauthorized, "invalid_client")
            #expect(anonymousClient.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            try await dev.token("nobody", "nothing").expectOAuthError(.unauthorized, "invalid_client")
        }
    }

    @Test func repeatedFailuresForOneClientAreSlowedDown() async throws {
        try await DevportalHarness.run { anonymous, _ in
            let dev = try await anonymous.developer("dev")
            let keys = try await dev.generateKeys(try await dev.createApplication())
            let id = keys.consumerKey
            let secret = keys.consumerSecret
            for _ in 0..<5 {
                try await dev.token(id, "guess").expectOAuthError(.unauthorized, "invalid_client")
            }
            let slowed = try await dev.token(id, secret)
            slowed.expectOAuthError(.tooManyRequests, "slow_down")
            let retryAfter = try #require(slowed.headers[.retryAfter].flatMap(Int.init))
            #expect((1...60).contains(retryAfter))
        }
    }

    @Test func revocationAndIntrospectionRoundTrip() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let dev = try await anonymous.developer("dev")
            let keys = try await dev.generateKeys(try await dev.createApplication())
            let id = keys.consumerKey
            let secret = keys.consumerSecret
            let token = try #require(try await dev.token(id, secret)["access_token"].string)
            let basic: HTTPFields = [.authorization: "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()]
            let client = dev.signedIn(nil)

            let active = try await client.send(.post, "/oauth2/introspect", form: "token=\(token)", headers: basic).json
            #expect(active["active"].bool == true)
            #expect(active["client_id"].string == id)
            #expect(active["username"].string == "dev")
            #expect(active["token_type"].string == "Bearer")
            #expect(active["exp"].int != nil)

            try await withTimeout(seconds: 20, "the revocation notice") {
                try await provider.database.client.withConnection { connection in
                    try await connection.listen(on: ChangeNotifier.channel) { notifications in
                        var iterator = notifications.makeAsyncIterator()
                        let revoked = try await client.send(
                            .post,
                            "/oauth2/revoke",
                            form: "token=\(token)&token_type_hint=access_token",
                            headers: basic
                        )
                        #expect(revoked.status == .ok)
                        #expect(revoked.body.isEmpty)
                        let change = try JSONDecoder().decode(Change.self, from: Data(try await iterator.next()!.payload.utf8))
                        #expect(change.entity == .token)
                        #expect(change.action == .revoked)
                        #expect(change.expiresAt != nil)
                    }
                }
            }
            let inactive = try await client.send(.post, "/oauth2/introspect", form: "token=\(token)", headers: basic)
            #expect(inactive.json == ["active": false], "\(inactive.text)")
            #expect(
                try await client.send(.post, "/oauth2/revoke", form: "token=not-a-token", headers: basic).status == .ok,
                "an unknown token is 200 too (RFC 7009 §2.2)"
            )
            #expect(try await client.send(.post, "/oauth2/introspect", form: "token=garbage", headers: basic).json["active"].bool == false)

            let other = try await anonymous.developer("other")
            let otherKeys = try await other.generateKeys(try await other.createApplication())
            let otherToken = try #require(
                try await other.token(
                    otherKeys.consumerKey,
                    otherKeys.consumerSecret
                )["access_token"].string
            )
            try await client.send(.post, "/oauth2/revoke", form: "token=\(otherToken)", headers: basic)
                .expectOAuthError(.badRequest, "unauthorized_client")
            #expect(
                try await client.send(.post, "/oauth2/introspect", form: "token=\(otherToken)", headers: basic).json["active"].bool == false,
                "a client cannot introspect another client's token"
            )
            try await client.send(.post, "/oauth2/introspect", form: "token=\(token)").expectOAuthError(.unauthorized, "invalid_client")
        }
    }

    @Test func deletingAnApplicationRevokesItsTokensAndRemovesItsKeys() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let api = try await provider.api()
            let dev = try await anonymous.developer("dev")
            let app = try await dev.createApplication()
            _ = try await dev.subscribe(app, to: api.id)
            let keys = try await dev.generateKeys(app)
            let id = keys.consumerKey
            let secret = keys.consumerSecret
            #expect(try await dev.token(id, secret).status == .ok)
            #expect(try await dev.send(.delete, "applications/\(app)").status == .noContent)
            let revoked = try await provider.query(
                "SELECT count(*)::integer FROM revoked_tokens r JOIN access_tokens t USING (jti) WHERE t.application_id = '\(app)'",
                as: Int.self
            )
            #expect(revoked == [2], "the token from generate-keys and the one from /oauth2/token")
            #expect(try await provider.query("SELECT count(*)::integer FROM subscriptions", as: Int.self) == [0])
            #expect(try await provider.query("SELECT count(*)::integer FROM application_keys", as: Int.self) == [0])
            try await dev.token(id, secret).expectOAuthError(.unauthorized, "invalid_client")
        }
    }

    @Test func keyRotationKeepsOldTokensVerifiable() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let dev = try await anonymous.developer("dev")
            let keys = try await dev.generateKeys(try await dev.createApplication())
            let id = keys.consumerKey
            let secret = keys.consumerSecret
            let before = try #require(try await dev.token(id, secret)["access_token"].string)

            let (active, retired) = try await signingKeyStore(provider.database, provider.settings).rotate()
            #expect(retired != nil)
            let after = try #require(try await dev.token(id, secret)["access_token"].string)

            let jwks = try await anonymous.send(.get, "/oauth2/jwks")
            let kids = jwks.json["keys"].array.compactMap { $0["kid"].string }
            #expect(Set(kids) == Set([active, retired!]))
            #expect(try IndependentJWT.verify(before, jwks: jwks.body)["client_id"].string == id)
            #expect(try IndependentJWT.verify(after, jwks: jwks.body)["client_id"].string == id)
            let header = JSON(parsing: try #require(Data(base64URLEncoded: String(after.split(separator: ".")[0]))))
            #expect(header["kid"].string == active)
            let basic: HTTPFields = [.authorization: "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()]
            #expect(
                try await dev.signedIn(nil).send(.post, "/oauth2/introspect", form: "token=\(before)", headers: basic).json["active"].bool == true
            )
        }
    }

    @Test func secretsAreNeverStoredOrLoggedInClear() async throws {
        let log = CapturedLog()
        var logger = Logger(label: "portico.devportal.test") { _ in log }
        logger.logLevel = .trace
        try await DevportalHarness.run(logger: logger) { anonymous, provider in
            let dev = try await anonymous.developer("dev")
            let app = try await dev.createApplication()
            let keys = try await dev.generateKeys(app)
            let id = keys.consumerKey
            let secret = keys.consumerSecret
            let firstToken = keys.token.accessToken
            let token = try #require(try await dev.token(id, secret)["access_token"].string)
            _ = try await dev.token(id, "wrong-secret")

            let dump =
                try await provider.query(
                    """
                    SELECT string_agg(t::text, ' ') FROM (
                        SELECT row_to_json(k)::text AS t FROM application_keys k
                        UNION ALL SELECT row_to_json(s)::text FROM signing_keys s
                        UNION ALL SELECT row_to_json(a)::text FROM access_tokens a
                        UNION ALL SELECT row_to_json(u)::text FROM users u) rows
                    """,
                    as: String.self
                ).first ?? ""
            #expect(!dump.isEmpty)
            for clear in [secret, token, firstToken, "password-1", "BEGIN RSA PRIVATE KEY", "BEGIN PRIVATE KEY"] {
                #expect(!dump.contains(clear), "'\(clear.prefix(12))…' is stored in clear")
            }
            let logged = log.text
            #expect(!logged.isEmpty)
            for clear in [secret, token, firstToken, "password-1", "wrong-secret"] {
                #expect(!logged.contains(clear), "'\(clear.prefix(12))…' was logged")
            }
        }
    }
}
