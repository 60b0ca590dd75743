import Foundation
import NIOCore
import PorticoCore

/// What the handshake learnt about a connection, for its log line and its usage: set stage by
/// stage, so a refusal is logged with as much as was known when it was refused.
struct HandshakeRecord: Sendable {
    /// The API the path resolved to, as the log line and the span name it (a connection keeps its
    /// record: not the whole catalog entry).
    struct API: Sendable {
        let id: String
        let name: String
        let version: String
    }

    let connectionID: String
    let startedAt = Date()
    let startedUptime = NIODeadline.now()
    /// The request's path and query, `access_token` redacted.
    let path: String
    let clientAddress: String
    let userAgent: String?
    var api: API?
    var caller: Caller?
}
