import Foundation

/// A JWS in compact serialization (RFC 7515 §7.1), taken apart once: three base64url parts in
/// their one spelling (`Data(base64URLEncoded:)`). Every reader of a token — the gateway's
/// verifier, the devportal's introspection and revocation — goes through here first, so a token
/// is accepted in exactly one spelling everywhere.
package struct CompactJWS: Sendable {
    package let header: Data
    package let payload: Data
    package let signature: Data
    /// `header.payload`, the bytes the signature covers.
    package let signingInput: Substring.UTF8View

    package init?(_ token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let header = Data(base64URLEncoded: parts[0]),
            let payload = Data(base64URLEncoded: parts[1]),
            let signature = Data(base64URLEncoded: parts[2])
        else { return nil }
        self.header = header
        self.payload = payload
        self.signature = signature
        signingInput = token[parts[0].startIndex..<parts[1].endIndex].utf8
    }
}
