import Foundation

/// The one spelling of the secrets Portico issues to machines — connection keys (`pck_`) and
/// personal access tokens (`pat_`): `<prefix><record id>_<secret>`, the id a UUID (so the record
/// is found without a search), the secret 256 random bits in 43 base64url characters (stored only
/// as a bcrypt hash).
package enum PresentedSecret {
    /// A new secret: 32 random bytes, base64url.
    package static func newSecret() -> String {
        Data.random(count: 32).base64URLEncoded
    }

    /// What is presented: `<prefix><record id>_<secret>`.
    package static func spell(prefix: String, id: String, secret: String) -> String {
        "\(prefix)\(id)_\(secret)"
    }

    /// The record id and secret of `presented`, or nil when it does not have the shape.
    package static func parse(_ presented: String, prefix: String) -> (id: String, secret: String)? {
        guard presented.hasPrefix(prefix), presented.utf8.count == prefix.utf8.count + 36 + 1 + 43 else { return nil }
        let rest = presented.dropFirst(prefix.count)
        let id = String(rest.prefix(36))
        let secret = String(rest.dropFirst(37))
        guard rest.dropFirst(36).first == "_", UUID(uuidString: id) != nil, secret.utf8.allSatisfy(isBase64URL) else { return nil }
        return (id.lowercased(), secret)
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }
}
