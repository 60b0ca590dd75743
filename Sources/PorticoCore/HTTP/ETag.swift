import Foundation

/// Entity-tag comparison for `If-Match` (RFC 9110 §13.1.1): `*` matches anything; otherwise any listed
/// tag must equal the current one, strongly.
package enum ETag {
    package static func matches(_ ifMatch: String, _ current: String) -> Bool {
        let trimmed = ifMatch.trimmingCharacters(in: .whitespaces)
        if trimmed == "*" { return true }
        return trimmed.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == current }
    }
}
