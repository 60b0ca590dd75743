import Foundation
import NIOConcurrencyHelpers
import PorticoCore

/// Tokens whose signature and claims have already been verified, by the token's text, so that a
/// client that reconnects with the same token skips the RSA verification and the claims' decoding
/// (most of a handshake's CPU). Bounded (`GATEWAY_TOKEN_CACHE_SIZE`; 0 turns it off); an entry is
/// never used past its token's expiry plus the leeway, nor once its signing key is no longer
/// published. Revocation, the application's and keys' existence, the subscription and everything
/// after are checked against the current snapshot on every handshake, cached or not — so a
/// revocation or a deletion acts at once, as without the cache.
final class VerifiedTokens: Sendable {
    struct Entry: Sendable {
        let claims: AccessTokenClaims
        let kid: String
    }

    let capacity: Int
    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    init(capacity: Int) {
        self.capacity = capacity
    }

    func entry(for token: String) -> Entry? {
        guard capacity > 0 else { return nil }
        return entries.withLockedValue { $0[token] }
    }

    /// Remembers a verified token. When full, the expired entries go; if that frees nothing, all
    /// go (the cache refills from the handshakes that follow).
    func remember(_ token: String, _ entry: Entry, now: Date, leeway: TimeInterval) {
        guard capacity > 0 else { return }
        entries.withLockedValue { entries in
            if entries.count >= capacity {
                entries = entries.filter { now < $0.value.claims.exp.value.addingTimeInterval(leeway) }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[token] = entry
        }
    }

    var count: Int { entries.withLockedValue { $0.count } }
}
