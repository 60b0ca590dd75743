import Foundation

/// A credential an API's backend presents to the connection management API of every gateway, to
/// read, message and close the API's client connections. It is shown once, as
/// `pck_<key id>_<secret>`: the id names the key (so a gateway finds its hash without a search),
/// the secret is 256 random bits, stored only as a bcrypt hash.
package struct ConnectionKey: Sendable, Equatable {
    package let id: String
    package let apiID: String
    package let createdBy: String
    package let createdAt: Date

    package init(id: String, apiID: String, createdBy: String, createdAt: Date) {
        self.id = id
        self.apiID = apiID
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    package static let prefix = "pck_"

    /// The key id and secret of a presented key, or nil when it is not one (checked for shape only:
    /// a UUID and 43 base64url characters).
    package static func parse(_ presented: String) -> (id: String, secret: String)? {
        PresentedSecret.parse(presented, prefix: prefix)
    }
}
