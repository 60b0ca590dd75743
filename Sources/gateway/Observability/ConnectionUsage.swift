import PorticoCore

/// What one connection used, with no I/O: counted since it was last handed to the recorder, under
/// the UTC minute that belongs to, and over the whole connection (for its log line). The
/// connection hands it over at each minute's end, when the recorder asks, and when it ends.
struct ConnectionUsage {
    private(set) var pending = UsageCounts()
    private(set) var minute: Int64
    private(set) var totals = UsageCounts()

    /// A connection opened in `minute` counts as one connection there.
    init(openedIn minute: Int64) {
        self.minute = minute
        pending.connections = 1
    }

    mutating func relayed(from side: RelaySide, bytes: Int, startsMessage: Bool) {
        pending.relayed(fromClient: side == .client, bytes: bytes, startsMessage: startsMessage)
    }

    mutating func count(_ error: UsageCounts.ErrorCategory) {
        pending.count(error)
    }

    /// What was counted since the last hand-over, with the minute it belongs to (nil: nothing).
    mutating func take() -> (minute: Int64, counts: UsageCounts)? {
        guard !pending.isEmpty else { return nil }
        defer { pending = UsageCounts() }
        totals.add(pending)
        return (minute, pending)
    }

    /// A new minute: what the last one counted, handed over, and counting goes on under `minute`.
    mutating func roll(to minute: Int64) -> (minute: Int64, counts: UsageCounts)? {
        guard minute != self.minute else { return nil }
        defer { self.minute = minute }
        return take()
    }
}
