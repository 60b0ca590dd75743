import Foundation
import Testing

@testable import PorticoCore
@testable import gateway

/// The cache of verified tokens skips only the signature check and the claims' decoding: every
/// check that can change after a token was issued still runs on every handshake.
@Suite struct VerifiedTokensTests {
    let verifier = TokenVerifier(
        issuer: "http://localhost:9081",
        audience: "portico-gateway",
        leeway: 30,
        verified: VerifiedTokens(capacity: 3)
    )

    func refusal(_ token: String, _ table: RouteTable, now: Date = Date()) -> String? {
        do {
            _ = try verifier.verify(token, in: table, now: now)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func aCachedTokenIsStillCheckedAgainstTheSnapshotAndTheClock() throws {
        let token = try CatalogFixtures.token()
        #expect(refusal(token, CatalogFixtures.table()) == nil)
        #expect(verifier.verified.count == 1, "verified once, remembered")
        #expect(refusal(token, CatalogFixtures.table()) == nil)
        #expect(refusal(token, CatalogFixtures.table(revoked: ["jti-1"])) == "revoked_token", "revocation acts at once")
        #expect(
            refusal(token, CatalogFixtures.table(keyPublished: false)) == "unknown_signing_key",
            "a signing key no longer published is not trusted from the cache"
        )
        #expect(refusal(token, CatalogFixtures.table(), now: Date().addingTimeInterval(700)) == "expired_token")
        var tampered = Array(token.utf8)
        tampered[tampered.count - 3] = tampered[tampered.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(
            refusal(String(decoding: tampered, as: UTF8.self), CatalogFixtures.table()) == "bad_signature",
            "another spelling is another key: verified, and refused"
        )
    }

    @Test func aRetiredKeyStopsVerifyingAtTheEndOfItsPublicationWithoutAReload() throws {
        let token = try CatalogFixtures.token()
        let table = CatalogFixtures.table(keyPublishedUntil: Date().addingTimeInterval(60))
        #expect(refusal(token, table) == nil)
        #expect(refusal(token, table, now: Date().addingTimeInterval(61)) == "unknown_signing_key", "cached: not trusted past the end")
        let fresh = TokenVerifier(issuer: "http://localhost:9081", audience: "portico-gateway", leeway: 30)
        do {
            _ = try fresh.verify(token, in: table, now: Date().addingTimeInterval(61))
            Issue.record("a key past its publication verified a token")
        } catch {
            #expect(error.code == "unknown_signing_key", "not cached: not trusted past the end either")
        }
    }

    @Test func theCacheIsBounded() throws {
        for index in 0..<7 {
            #expect(refusal(try CatalogFixtures.token(claims: ["jti": "jti-\(index)"]), CatalogFixtures.table()) == nil)
            #expect(verifier.verified.count <= 3)
        }
        let off = TokenVerifier(issuer: "http://localhost:9081", audience: "portico-gateway", leeway: 30)
        _ = try off.verify(try CatalogFixtures.token(), in: CatalogFixtures.table())
        #expect(off.verified.count == 0, "capacity 0: off")
    }
}
