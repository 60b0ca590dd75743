import Foundation
import PorticoCore

/// How a connection ended: the first close, and who made it. `code` is the code that was on the
/// wire — always one a close frame may carry — and nil when there was none: a close frame without
/// a code, or a side that `vanished` without a close frame (the reason says which).
struct ConnectionEnd: Sendable {
    enum Initiator: String, Sendable { case client, backend, gateway }

    let code: UInt16?
    let initiator: Initiator
    let reason: String
    var vanished = false

    /// The usage error category this end counts as, if any (4003 is counted per event instead).
    var usageError: UsageCounts.ErrorCategory? {
        if vanished { return initiator == .backend ? .backend : nil }
        switch (initiator, code) {
        case (.gateway, 4001), (.gateway, 4002): return .auth
        case (.gateway, 1011), (.backend, 1011): return .backend
        case (.gateway, 1002), (.gateway, 1007), (.gateway, 1009): return .other
        default: return nil
        }
    }
}

extension Refusal {
    /// The usage error category of a refused handshake.
    var usageError: UsageCounts.ErrorCategory {
        switch (status.code, code) {
        case (401, _), (403, _): .auth
        case (429, _): .throttled
        case (502, _), (504, _), (503, "endpoint_suspended"): .backend
        default: .other
        }
    }
}
