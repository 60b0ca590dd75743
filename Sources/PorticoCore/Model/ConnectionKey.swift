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

    /// What a backend presents: the key's id and secret in one string.
    package static func presented(id: String, secret: String) -> String {
        "\(prefix)\(id)_\(secret)"
    }

    /// The key id and secret of a presented key, or nil when it is not one (checked for shape only:
    /// a UUID and 43 base64url characters).
    package static func parse(_ presented: String) -> (id: String, secret: String)? {
        guard presented.hasPrefix(prefix), presented.utf8.count == prefix.utf8.count + 36 + 1 + 43 else { return nil }
        let rest = presented.dropFirst(prefix.count)
        let id = String(rest.prefix(36))
        let secret = String(rest.dropFirst(37))
        guard rest.dropFirst(36).first == "_", UUID(uuidString: id) != nil,
            secret.utf8.allSatisfy({ $0.isBase64URL })
        else { return nil }
        return (id.lowercased(), secret)
    }
}

extension UInt8 {
    fileprivate var isBase64URL: Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || self == UInt8(ascii: "-") || self == UInt8(ascii: "_")
    }
}
