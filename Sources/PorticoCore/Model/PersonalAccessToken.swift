import Foundation

/// A personal access token: a user's credential for scripts and the `portico` CLI, presented as
/// `Authorization: Bearer pat_<id>_<secret>` instead of a password. The secret is 256 random bits,
/// shown once and stored as a bcrypt hash; the token expires, and deleting it revokes it.
package struct PersonalAccessToken: Sendable, Equatable {
    package let id: String
    package let name: String
    package let createdAt: Date
    package let expiresAt: Date

    package init(id: String, name: String, createdAt: Date, expiresAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    package static let prefix = "pat_"
    /// The longest a token may live, and the default.
    package static let maxValidityDays = 365
    package static let defaultValidityDays = 30

    /// The id and secret of a presented token, or nil when it is not one (shape only).
    package static func parse(_ presented: String) -> (id: String, secret: String)? {
        PresentedSecret.parse(presented, prefix: prefix)
    }
}
