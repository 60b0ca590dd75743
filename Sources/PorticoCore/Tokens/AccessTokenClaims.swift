import Foundation
import JWTKit

/// The claims of a Portico access token (a JWT signed RS256 with a `kid`).
///
/// Subscriptions are deliberately not in the token: the gateway checks them live, so subscribing
/// after the token was issued works and unsubscribing takes effect at once.
public struct AccessTokenClaims: JWTPayload, Equatable {
    public struct ApplicationClaim: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var owner: String
        /// The application plan.
        public var tier: String

        public init(id: String, name: String, owner: String, tier: String) {
            self.id = id
            self.name = name
            self.owner = owner
            self.tier = tier
        }
    }

    public var iss: IssuerClaim
    /// The application's owner.
    public var sub: SubjectClaim
    public var aud: AudienceClaim
    public var iat: IssuedAtClaim
    public var nbf: NotBeforeClaim
    public var exp: ExpirationClaim
    public var jti: IDClaim
    public var client_id: String
    public var scope: String
    /// PRODUCTION or SANDBOX: which endpoint the gateway routes this token to.
    public var keytype: String
    public var application: ApplicationClaim

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf.verifyNotBefore()
    }
}

/// An access token as the token endpoints hand it out.
public struct IssuedToken: Sendable {
    public let accessToken: String
    public let jti: String
    public let expiresIn: Int
    public let scope: String
}
