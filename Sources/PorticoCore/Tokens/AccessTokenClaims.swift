import Foundation
import JWTKit

/// The claims of a Portico access token (a JWT signed RS256 with a `kid`).
///
/// Subscriptions are deliberately not in the token: the gateway checks them live, so subscribing
/// after the token was issued works and unsubscribing takes effect at once.
package struct AccessTokenClaims: JWTPayload, Equatable {
    package struct ApplicationClaim: Codable, Sendable, Equatable {
        package var id: String
        package var name: String
        package var owner: String
        /// The application plan.
        package var tier: String

        package init(id: String, name: String, owner: String, tier: String) {
            self.id = id
            self.name = name
            self.owner = owner
            self.tier = tier
        }
    }

    package var iss: IssuerClaim
    /// The application's owner.
    package var sub: SubjectClaim
    package var aud: AudienceClaim
    package var iat: IssuedAtClaim
    package var nbf: NotBeforeClaim
    package var exp: ExpirationClaim
    package var jti: IDClaim
    package var client_id: String
    package var scope: String
    /// PRODUCTION or SANDBOX: which endpoint the gateway routes this token to.
    package var keytype: String
    package var application: ApplicationClaim

    package func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf.verifyNotBefore()
    }
}

/// An access token as the token endpoints hand it out.
package struct IssuedToken: Sendable {
    package let accessToken: String
    package let jti: String
    package let expiresIn: Int
    package let scope: String
}
