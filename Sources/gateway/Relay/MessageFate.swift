/// What becomes of the data messages on one side of a relayed connection, with no I/O: those read
/// from it (relayed, dropped over a rate limit with all their frames, or too big) and those written
/// to it (a rate-limit notice never cuts into a half-written message: it waits for the message's
/// last frame).
struct MessageFate: Equatable {
    enum Verdict: Equatable {
        /// Relay the frame.
        case relay
        /// The message is over a rate limit: this frame goes nowhere, nor do the message's others.
        case drop
        /// The message has grown over the size limit: the side is closed with 1009.
        case tooBig
    }

    /// The bytes of the message being read so far, and whether it is being dropped.
    private(set) var messageBytes = 0
    private(set) var dropping = false
    /// A message written to this side is half written: its last frame is not yet out.
    private(set) var midMessage = false
    /// A notice (the milliseconds to retry after) waiting for that message's end.
    private(set) var waitingNotice: Int?

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

    /// A data frame written to this side: the notice that waited for its message's end, if it ends it.
    mutating func wrote(fin: Bool) -> Int? {
        midMessage = !fin
        guard fin, let notice = waitingNotice else { return nil }
        waitingNotice = nil
        return notice
    }

    /// A rate-limit notice for this side: true when it can be written now; false when it waits for
    /// the half-written message (a later notice replaces a waiting one: the latest retry time counts).
    mutating func notice(retryAfterMs: Int) -> Bool {
        guard midMessage else { return true }
        waitingNotice = retryAfterMs
        return false
    }
}
