import NIOCore

/// What becomes of the data messages on one side of a relayed connection, with no I/O: those read
/// from it (relayed, dropped over a rate limit with all their frames, or too big) and those written
/// to it. The gateway's own messages to a side — a rate-limit notice, a message pushed from outside
/// the relay — never cut into a message being relayed to it: they wait for its last frame.
struct MessageFate: Equatable {
    enum Verdict: Equatable {
        /// Relay the frame.
        case relay
        /// The message is over a rate limit: this frame goes nowhere, nor do the message's others.
        case drop
        /// The message has grown over the size limit: the side is closed with 1009.
        case tooBig
    }

    /// A message from the gateway itself for this side.
    enum Outgoing: Equatable {
        /// The text frame telling the client its message was dropped (4003, retry after).
        case notice(retryAfterMs: Int)
        /// A whole message pushed from outside the relay.
        case message(ByteBuffer, binary: Bool)
    }

    /// How many of the gateway's own messages may wait for a half-written message.
    static let maxWaiting = 64

    /// The bytes of the message being read so far, and whether it is being dropped.
    private(set) var messageBytes = 0
    private(set) var dropping = false
    /// A message written to this side is half written: its last frame is not yet out.
    private(set) var midMessage = false
    /// The gateway's messages waiting for that message's end, in order.
    private(set) var waiting: [Outgoing] = []

    /// A data frame read from this side. Its size counts towards its message's, against `limit`;
    /// `admitted` (the rate limits, which also see every frame as activity) decides, at a message's
    /// first frame, the fate of the whole message.
    mutating func read(startsMessage: Bool, length: Int, limit: Int, admitted: () -> Bool) -> Verdict {
        messageBytes = startsMessage ? length : messageBytes + length
        guard messageBytes <= limit else { return .tooBig }
        let admits = admitted()
        if startsMessage { dropping = !admits }
        return dropping ? .drop : .relay
    }

    /// A relayed data frame written to this side: what waited for its message's end, if it ends it.
    mutating func wrote(fin: Bool) -> [Outgoing] {
        midMessage = !fin
        guard fin, !waiting.isEmpty else { return [] }
        defer { waiting = [] }
        return waiting
    }

    /// One of the gateway's own messages for this side. `.now`: write it; `.waits`: it goes after the
    /// half-written message (a notice replaces a notice already waiting: the latest retry time
    /// counts); `.full`: too many wait already.
    enum Send: Equatable { case now, waits, full }

    mutating func send(_ outgoing: Outgoing) -> Send {
        guard midMessage else { return .now }
        if case .notice = outgoing, let index = waiting.firstIndex(where: { if case .notice = $0 { true } else { false } }) {
            waiting[index] = outgoing
            return .waits
        }
        guard waiting.count < Self.maxWaiting else { return .full }
        waiting.append(outgoing)
        return .waits
    }
}
