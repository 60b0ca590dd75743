import NIOConcurrencyHelpers
import PorticoCore

/// Stage 5: may one more connection open under this subscription. Its plan's cap counts the
/// connections open on every gateway: this gateway's own, counted here at once, plus the others',
/// which `ClusterSync` reads from PostgreSQL every sync interval. A slot is taken before the
/// backend is dialled and given back when the handshake fails or the connection ends.
final class ConnectionCounts: Sendable {
    private struct State {
        var local: [String: Int] = [:]
        var others: [String: Int] = [:]
        var changed = true
    }

    private let state = NIOLockedValueBox(State())

    /// Seconds a client is told to wait when the cap is reached.
    static let retryAfterSeconds = 5

    /// Takes a slot for `subscriptionID`, or refuses with 429 when `cap` (0: none) is reached.
    func admit(subscriptionID: String, cap: Int) throws(Refusal) {
        let open: Int? = state.withLockedValue { state in
            let open = state.local[subscriptionID, default: 0] + state.others[subscriptionID, default: 0]
            if cap > 0 && open >= cap { return open }
            state.local[subscriptionID, default: 0] += 1
            state.changed = true
            return nil
        }
        if let open {
            throw Refusal(
                status: .tooManyRequests,
                code: "connection_limit",
                message: "The subscription has \(open) open connection(s), the most its plan allows (\(cap))",
                extraHeaders: [("Retry-After", "\(Self.retryAfterSeconds)")]
            )
        }
    }

    func release(subscriptionID: String) {
        state.withLockedValue { state in
            let left = state.local[subscriptionID, default: 1] - 1
            state.local[subscriptionID] = left > 0 ? left : nil
            state.changed = true
        }
    }

    /// This gateway's counts when they changed since the last call (nil: unchanged).
    func takeChangedLocal() -> [String: Int]? {
        state.withLockedValue { state in
            guard state.changed else { return nil }
            state.changed = false
            return state.local
        }
    }

    /// A write that did not reach PostgreSQL is retried at the next sync.
    func markChanged() { state.withLockedValue { $0.changed = true } }

    /// The other gateways' counts, as PostgreSQL last reported them.
    func setOthers(_ others: [String: Int]) { state.withLockedValue { $0.others = others } }

    var local: [String: Int] { state.withLockedValue { $0.local } }
}
