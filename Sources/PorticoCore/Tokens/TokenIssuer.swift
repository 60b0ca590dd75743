import Foundation
import JWTKit

/// Signs access tokens with the active signing key and records them.
package struct TokenIssuer: Sendable {
    package let signingKeys: SigningKeyStore
    package let tokens: TokenStore
    /// `iss`: the devportal's public URL.
    package let issuer: String
    /// `aud`: who the tokens are for (the gateways).
    package let audience: String

    package init(signingKeys: SigningKeyStore, tokens: TokenStore, issuer: String, audience: String) {
        self.signingKeys = signingKeys
        self.tokens = tokens
        self.issuer = issuer
        self.audience = audience
    }

    /// A token for `key`'s application that lives `validity` seconds.
    package func issue(for key: ClientKey, application: AccessTokenClaims.ApplicationClaim, scope: String, validity: Int) async throws -> IssuedToken
    {
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let jti = UUID().uuidString.lowercased()
        let claims = AccessTokenClaims(
            iss: .init(value: issuer),
            sub: .init(value: application.owner),
            aud: .init(value: [audience]),
            iat: .init(value: now),
            nbf: .init(value: now),
            exp: .init(value: now.addingTimeInterval(TimeInterval(validity))),
            jti: .init(value: jti),
            client_id: key.consumerKey,
            scope: scope,
            keytype: key.keyType.rawValue,
            application: application
        )
        let (kid, privateKey) = try await signingKeys.activeKey()
        let keys = JWTKeyCollection()
        await keys.add(rsa: privateKey, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        let token = try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        try await tokens.record(claims, keyID: key.id)
        return IssuedToken(accessToken: token, jti: jti, expiresIn: validity, scope: scope)
    }

    /// The claims of `token` when its signature is one of the published keys' and it is within its
    /// lifetime; nil otherwise. (Revocation is the token store's to say.)
    package func verify(_ token: String) async -> AccessTokenClaims? {
        // jwt-kit reads base64url more leniently than RFC 7515: the one spelling is checked first.
        guard CompactJWS(token) != nil, let published = try? await signingKeys.publishedKeys() else { return nil }
        let keys = JWTKeyCollection()
        for key in published {
            await keys.add(rsa: key.publicKey, digestAlgorithm: .sha256, kid: JWKIdentifier(string: key.kid))
        }
        guard let claims = try? await keys.verify(token, as: AccessTokenClaims.self),
            claims.iss.value == issuer, claims.aud.value.contains(audience)
        else { return nil }
        return claims
    }
}
