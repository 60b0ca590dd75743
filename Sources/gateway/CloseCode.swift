import NIOWebSocket

/// Every close code the gateway itself sends. Codes a client or backend sends travel through
/// unchanged; these are the gateway's own. Listed in `docs/gateway.md`.
enum GatewayCloseCode: UInt16, Sendable, CaseIterable {
    /// The other side went away without a close (sent to the backend when the client vanished,
    /// or when the client's message broke a limit), the gateway is shutting down, the connection
    /// was idle too long or reached its maximum lifetime (sent to both; the reason says which).
    case goingAway = 1001
    /// A control frame that breaks RFC 6455 (fragmented, or longer than 125 bytes), which the
    /// gateway's frame decoder refuses before any backend could.
    case protocolError = 1002
    /// A compressed message (permessage-deflate) whose data is not valid DEFLATE.
    case invalidPayload = 1007
    /// A message or frame larger than the connection's limit (plan, API, else
    /// `GATEWAY_MAX_MESSAGE_BYTES`), or one that decompresses to more; the other side gets 1001.
    case messageTooBig = 1009
    /// The backend vanished without a close, or failed.
    case backendFailed = 1011
    /// The connection's credentials are no longer valid: the token was revoked or expired.
    case invalidCredentials = 4001
    /// Access was withdrawn: subscription deleted or blocked, application deleted, API blocked,
    /// retired or deprecated for this caller.
    case forbidden = 4002
    /// Over the plan's event limit (or the application's, or the API's ceiling) when the plan's
    /// excess action is `close`. With `drop`, the message is dropped and the client receives the
    /// text frame `{"error":"rate_limited","code":4003,"retryAfterMs":N}` instead.
    case rateLimited = 4003

    var errorCode: WebSocketErrorCode { WebSocketErrorCode(codeNumber: Int(rawValue)) }
}
