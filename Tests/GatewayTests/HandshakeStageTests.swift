import Crypto
import CryptoExtras
import Foundation
import NIOHTTP1
import Testing

@testable import PorticoCore
@testable import gateway

/// The handshake's stages on their own, with tokens signed here by swift-crypto.
@Suite struct HandshakeStageTests {
    let verifier = TokenVerifier(issuer: "http://localhost:9081", audience: "portico-gateway", leeway: 30)

    @Test func routesVersionsDefaultVersionsAndTheRestOfThePath() {
        let table = CatalogFixtures.table()
        #expect(table.match(path: "/echowebsocket/1.0.0")?.api.id == "echo1")
        #expect(
            table.match(path: "/echowebsocket/2.0.0/room/7")
                == .init(api: CatalogFixtures.api("echo2", context: "/echowebsocket", version: "2.0.0"), rest: "/room/7")
        )
        #expect(table.match(path: "/echowebsocket")?.api.id == "echo1", "the default version")
        #expect(table.match(path: "/echowebsocket/chat")?.rest == "/chat", "not a version: the default version's path")
        #expect(table.match(path: "/a/b/v1/x")?.api.id == "deep")
        #expect(table.match(path: "/a/b/x")?.rest == "/x")
        #expect(table.match(path: "/a") == nil)
        #expect(table.match(path: "/proto") == nil, "no default version")
        #expect(table.match(path: "/nothing/1") == nil)
        #expect(table.match(path: "/") == nil)
    }

    @Test func credentialsComeFromTheHeaderFirstThenTheQuery() throws {
        #expect(try Credentials.extract(headers: ["Authorization": "BEARER abc"], query: [("access_token", "q")]) == "abc")
        #expect(try Credentials.extract(headers: [:], query: [("x", "1"), ("access_token", "q")]) == "q")
        for (headers, query) in [
            (HTTPHeaders(), [(name: String, value: String)]()),
            (HTTPHeaders([("Authorization", "Bearer ")]), []),
            (HTTPHeaders([("Authorization", "Basic YTpi")]), []),
            (HTTPHeaders(), [("access_token", "")]),
        ] {
            let refusal = #expect(throws: Refusal.self) { try Credentials.extract(headers: headers, query: query) }
            #expect(refusal?.status == .unauthorized)
            #expect(refusal?.extraHeaders.first?.1.hasPrefix(#"Bearer realm="portico", error="invalid_token""#) == true)
        }
    }

    @Test func aGoodTokenNamesItsCaller() throws {
        let caller = try verifier.verify(try CatalogFixtures.token(), in: CatalogFixtures.table())
        #expect(caller.applicationID == "app")
        #expect(caller.keyType == .production)
        #expect(caller.subscriber == "dev")
        #expect(caller.jti == "jti-1")
    }

    @Test func everyBadTokenIsRefusedWithItsReason() throws {
        let now = Date().timeIntervalSince1970
        let cases: [(String, String)] = [
            ("not-a-jwt", "malformed_token"),
            (try CatalogFixtures.token(alg: "HS256"), "unsupported_algorithm"),
            (try CatalogFixtures.token(alg: "none"), "unsupported_algorithm"),
            (try CatalogFixtures.token(kid: "k9"), "unknown_signing_key"),
            (try CatalogFixtures.token(key: CatalogFixtures.otherKey), "bad_signature"),
            (try CatalogFixtures.token(claims: ["iss": "https://elsewhere"]), "wrong_issuer"),
            (try CatalogFixtures.token(claims: ["aud": "someone-else"]), "wrong_audience"),
            (try CatalogFixtures.token(claims: ["exp": now - 120]), "expired_token"),
            (try CatalogFixtures.token(claims: ["nbf": now + 120]), "token_not_yet_valid"),
            (try CatalogFixtures.token(claims: ["client_id": "deleted"]), "unknown_application"),
            (try CatalogFixtures.token(claims: ["client_id": NSNull()]), "malformed_token"),
        ]
        for (token, code) in cases {
            let refusal = #expect(throws: Refusal.self) { try verifier.verify(token, in: CatalogFixtures.table()) }
            #expect(refusal?.code == code, "\(code)")
            #expect(refusal?.status == .unauthorized)
        }
        let revoked = #expect(throws: Refusal.self) {
            try verifier.verify(try CatalogFixtures.token(), in: CatalogFixtures.table(revoked: ["jti-1"]))
        }
        #expect(revoked?.code == "revoked_token")
        // Within the leeway, a just-expired token still passes.
        #expect(try verifier.verify(try CatalogFixtures.token(claims: ["exp": now - 5]), in: CatalogFixtures.table()).jti == "jti-1")
    }

    @Test func accessFollowsStateSubscriptionAndKeyType() throws {
        let production = try verifier.verify(try CatalogFixtures.token(), in: CatalogFixtures.table())
        let sandbox = try verifier.verify(try CatalogFixtures.token(claims: ["client_id": "sk"]), in: CatalogFixtures.table())
        let echo = CatalogFixtures.api("echo1", context: "/echowebsocket", version: "1.0.0")
        #expect(try Access.check(production, echo, in: CatalogFixtures.table()) == "ws://backend")
        #expect(throws: Refusal.forbidden("not_subscribed", "The application is not subscribed to this API")) {
            try Access.check(production, echo, in: CatalogFixtures.table(subscriptionStatus: nil))
        }
        #expect((try? Access.check(production, echo, in: CatalogFixtures.table(subscriptionStatus: .blocked))) == nil)
        #expect((try? Access.check(production, echo, in: CatalogFixtures.table(subscriptionStatus: .prodOnlyBlocked))) == nil)
        let sandboxAPI = CatalogFixtures.api("echo1", context: "/echowebsocket", version: "1.0.0", sandbox: "ws://sandbox")
        #expect(try Access.check(sandbox, sandboxAPI, in: CatalogFixtures.table(subscriptionStatus: .prodOnlyBlocked)) == "ws://sandbox")
        let refusal = #expect(throws: Refusal.self) { try Access.check(sandbox, echo, in: CatalogFixtures.table()) }
        #expect(refusal?.code == "no_endpoint")
        #expect(
            try Access.check(
                production,
                CatalogFixtures.api("proto", context: "/proto", version: "1", state: .prototyped),
                in: CatalogFixtures.table()
            ) == "ws://backend",
            "prototypes need no subscription"
        )
        let blocked = #expect(throws: Refusal.self) {
            try Access.check(production, CatalogFixtures.api("b", context: "/b", version: "1", state: .blocked), in: CatalogFixtures.table())
        }
        #expect(blocked?.status == .serviceUnavailable)
        let deprecated = CatalogFixtures.api("echo1", context: "/echowebsocket", version: "1.0.0", state: .deprecated)
        #expect(try Access.check(production, deprecated, in: CatalogFixtures.table()) == "ws://backend", "existing subscribers keep a deprecated API")
        #expect((try? Access.check(production, deprecated, in: CatalogFixtures.table(subscriptionStatus: nil))) == nil)
    }

    @Test func theBackendGetsThePathAndTheQueryWithoutTheToken() throws {
        let target = try Backend.Endpoint.parse("wss://h.example:8443/base/").get().target(rest: "/room/7", clientQuery: "a=1&access_token=t&b=x%20y")
        #expect(target.secure)
        #expect(target.port == 8443)
        #expect(target.pathAndQuery == "/base/room/7?a=1&b=x%20y")
        #expect(target.hostHeader == "h.example:8443")
        let plain = try Backend.Endpoint.parse("ws://h?k=v").get().target(rest: "", clientQuery: "access_token=t")
        #expect(plain.pathAndQuery == "/?k=v")
        #expect(plain.port == 80)
        #expect(Backend.acceptValue(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 §1.3's example")
    }

    /// An IP literal is dialled as an address, without a name lookup; a name is looked up.
    @Test func anIPLiteralIsDialledWithoutANameLookup() throws {
        let v4 = try Backend.Endpoint.parse("ws://127.0.0.1:9100/x").get().target(rest: "", clientQuery: nil)
        #expect(v4.address?.ipAddress == "127.0.0.1" && v4.address?.port == 9100)
        let v6 = try Backend.Endpoint.parse("wss://[::1]/x").get()
        #expect(v6.address?.ipAddress == "::1" && v6.address?.port == 443)
        #expect(try Backend.Endpoint.parse("ws://echo.internal:9100").get().address == nil)
    }
}
