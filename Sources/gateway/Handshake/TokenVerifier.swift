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

    func verify(_ token: String, in table: RouteTable, now: Date = Date()) throws(Refusal) -> Caller {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              let headerData = Data(base64URLEncoded: String(parts[0])),
              let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any],
              let payloadData = Data(base64URLEncoded: String(parts[1])),
              let claims = (try? JSONSerialization.jsonObject(with: payloadData)) as? [String: Any],
              let signature = Data(base64URLEncoded: String(parts[2]))
        else { throw .unauthorized("malformed_token", "The access token is not a JWT") }
        guard header["alg"] as? String == "RS256" else {
            throw .unauthorized("unsupported_algorithm", "The token must be signed RS256, not \(header["alg"] ?? "unsigned")")
        }
        guard let kid = header["kid"] as? String, let key = table.signingKeys[kid] else {
            throw .unauthorized("unknown_signing_key", "The token is not signed by a key this gateway knows")
        }
        let signed = Data(parts[0].utf8) + Data(".".utf8) + Data(parts[1].utf8)
        guard key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: signed),
                                   padding: .insecurePKCS1v1_5)
        else { throw .unauthorized("bad_signature", "The token's signature does not verify") }
        guard claims["iss"] as? String == issuer else { throw .unauthorized("wrong_issuer", "The token was not issued by this Portico") }
        let audiences = (claims["aud"] as? [String]) ?? (claims["aud"] as? String).map { [$0] } ?? []
        guard audiences.contains(audience) else { throw .unauthorized("wrong_audience", "The token is not meant for this gateway") }
        guard let exp = (claims["exp"] as? NSNumber)?.doubleValue else { throw .unauthorized("malformed_token", "The token has no exp") }
        guard now.timeIntervalSince1970 < exp + leeway else { throw .unauthorized("expired_token", "The token has expired") }
        if let nbf = (claims["nbf"] as? NSNumber)?.doubleValue, now.timeIntervalSince1970 + leeway < nbf {
            throw .unauthorized("token_not_yet_valid", "The token is not valid yet")
        }
        guard let jti = claims["jti"] as? String, let clientID = claims["client_id"] as? String else {
            throw .unauthorized("malformed_token", "The token lacks jti or client_id")
        }
        guard table.revokedTokens[jti] == nil else { throw .unauthorized("revoked_token", "The token has been revoked") }
        guard let clientKey = table.keys[clientID], table.applications.contains(clientKey.applicationID) else {
            throw .unauthorized("unknown_application", "The token's application or keys no longer exist")
        }
        let application = claims["application"] as? [String: Any]
        return Caller(
            jti: jti, consumerKey: clientID, applicationID: clientKey.applicationID,
            applicationName: application?["name"] as? String ?? "", subscriber: claims["sub"] as? String ?? "",
            keyType: clientKey.keyType, expiresAt: Date(timeIntervalSince1970: exp))
    }
}
