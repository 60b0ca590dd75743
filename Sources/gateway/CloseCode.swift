import NIOWebSocket

/// Every close code the gateway itself sends. Codes a client or backend sends travel through
/// unchanged; these are the gateway's own. Listed in `docs/gateway.md`.
enum GatewayCloseCode: UInt16, Sendable, CaseIterable {
    /// The other side went away without a close (sent to the backend when the client vanished),
    /// or the gateway is shutting down (sent to both).
    case goingAway = 1001
    /// A control frame that breaks RFC 6455 (fragmented, or longer than 125 bytes), which the
    /// gateway's frame decoder refuses before any backend could.
    case protocolError = 1002
    /// A compressed message (permessage-deflate) whose data is not valid DEFLATE.
    case invalidPayload = 1007
    /// A frame larger than `GATEWAY_MAX_FRAME_BYTES`, or one that decompresses to more.
    case messageTooBig = 1009
    /// The backend vanished without a close, or failed.
    case backendFailed = 1011
    /// The connection's credentials are no longer valid: the token was revoked or expired.
    case invalidCredentials = 4001
    /// Access was withdrawn: subscription deleted or blocked, application deleted, API blocked,
    /// retired or deprecated for this caller.
    case forbidden = 4002

    var errorCode: WebSocketErrorCode { WebSocketErrorCode(codeNumber: Int(rawValue)) }
}
