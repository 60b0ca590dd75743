import Atomics

/// Connections accepted whose handshake request is not complete yet, bounded by
/// `GATEWAY_MAX_PENDING_HANDSHAKES`: a flood of connections that send nothing, or one byte at a
/// time, holds at most this many slots (each for at most `GATEWAY_HANDSHAKE_TIMEOUT`).
final class PendingHandshakes: Sendable {
    let limit: Int
    private let count = ManagedAtomic(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot; false (and nothing taken) when all are in use.
    func enter() -> Bool {
        if count.loadThenWrappingIncrement(ordering: .relaxed) < limit { return true }
        count.wrappingDecrement(ordering: .relaxed)
        return false
    }

    func leave() {
        count.wrappingDecrement(ordering: .relaxed)
    }
}
