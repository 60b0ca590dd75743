import Crypto
import CryptoExtras
import Foundation
import PorticoCore

/// What the gateway knows about a caller once their token checks out.
struct Caller: Sendable, Equatable {
    let jti: String
    let consumerKey: String
    let applicationID: String
    let applicationName: String
    let subscriber: String
    let keyType: KeyType
    let expiresAt: Date
}

/// Stage 3: an RS256 JWT signed by one of the published signing keys, for this gateway (`iss`,
/// `aud`), within its lifetime (with leeway), not revoked, of keys and an application that still
/// exist. Runs on the event loop: one RSA verification, no I/O, no lock but the snapshot's.
struct TokenVerifier: Sendable {
    let issuer: String
    let audience: String
    let leeway: TimeInterval
    /// Tokens verified before (`VerifiedTokens`); empty and off unless a capacity is given.
    var verified = VerifiedTokens(capacity: 0)

    /// The JOSE header, as far as the gateway reads it.
    private struct Header: Decodable {
        let alg: String?
        let kid: String?
    }

    func verify(_ token: String, in table: RouteTable, now: Date = Date()) throws(Refusal) -> Caller {
        let claims: AccessTokenClaims
        if let known = verified.entry(for: token), table.signingKey(known.kid, at: now) != nil {
            claims = known.claims
        } else {
            let (checked, kid) = try signedClaims(token, in: table, now: now)
            verified.remember(token, .init(claims: checked, kid: kid), now: now, leeway: leeway)
            claims = checked
        }
        return try admit(claims, in: table, now: now)
    }

    /// The token's claims once its form, algorithm, signing key and signature check out.
    private func signedClaims(_ token: String, in table: RouteTable, now: Date) throws(Refusal) -> (AccessTokenClaims, kid: String) {
        guard let jws = CompactJWS(token), let header = try? JSONDecoder().decode(Header.self, from: jws.header) else {
            throw .unauthorized("malformed_token", "The access token is not a JWT")
        }
        // Nothing from the token is quoted back: the refusal names what is expected, not what came.
        guard header.alg == "RS256" else {
            throw .unauthorized("unsupported_algorithm", "The token must be signed RS256")
        }
        guard let kid = header.kid, let key = table.signingKey(kid, at: now) else {
            throw .unauthorized("unknown_signing_key", "The token is not signed by a key this gateway knows")
        }
        guard
            key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: jws.signature),
                for: SHA256.hash(data: Data(jws.signingInput)),
                padding: .insecurePKCS1v1_5
            )
        else { throw .unauthorized("bad_signature", "The token's signature does not verify") }
        do {
            // Signed, so read: the claims the devportal signs, read with the type it signs them from.
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .secondsSince1970
            return (try decoder.decode(AccessTokenClaims.self, from: jws.payload), kid)
        } catch {
            throw .unauthorized("malformed_token", "The token's claims are not a Portico access token's: \(Self.describe(error))")
        }
    }

    /// What holds for a signed token at this moment and in this snapshot: issuer, audience,
    /// lifetime, not revoked, of keys and an application that still exist.
    private func admit(_ claims: AccessTokenClaims, in table: RouteTable, now: Date) throws(Refusal) -> Caller {
        guard claims.iss.value == issuer else { throw .unauthorized("wrong_issuer", "The token was not issued by this Portico") }
        guard claims.aud.value.contains(audience) else { throw .unauthorized("wrong_audience", "The token is not meant for this gateway") }
        guard now < claims.exp.value.addingTimeInterval(leeway) else { throw .unauthorized("expired_token", "The token has expired") }
        guard now.addingTimeInterval(leeway) >= claims.nbf.value else {
            throw .unauthorized("token_not_yet_valid", "The token is not valid yet")
        }
        let jti = claims.jti.value
        let standing = table.standing(ofToken: jti, consumerKey: claims.client_id)
        guard !standing.revoked else { throw .unauthorized("revoked_token", "The token has been revoked") }
        guard let clientKey = standing.key else {
            throw .unauthorized("unknown_application", "The token's application or keys no longer exist")
        }
        return Caller(
            jti: jti,
            consumerKey: claims.client_id,
            applicationID: clientKey.applicationID,
            applicationName: claims.application.name,
            subscriber: claims.sub.value,
            keyType: clientKey.keyType,
            expiresAt: claims.exp.value
        )
    }

    /// Which claim is missing or wrong, from a decoding error.
    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, let context):
            return "no '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' is not what it should be"
        default:
            return "not JSON"
        }
    }
}
