import NIOWebSocket
import PorticoCore

/// Every close code the gateway itself sends. Codes a client or backend sends travel through
/// unchanged; these are the gateway's own. Listed in `docs/gateway.md`.
struct GatewayCloseCode: RawRepresentable, Hashable, Sendable {
    let rawValue: UInt16

    init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The connection management API's disconnect (`DELETE …/@connections/{id}`) without a code:
    /// the client's connection ends normally.
    static let normalClosure = GatewayCloseCode(rawValue: 1000)
    /// The other side went away without a close (sent to the backend when the client vanished,
    /// or when the client's message broke a limit), the gateway is shutting down, the connection
    /// was idle too long or reached its maximum lifetime (sent to both; the reason says which).
    static let goingAway = GatewayCloseCode(rawValue: 1001)
    /// A control frame that breaks RFC 6455 (fragmented, or longer than 125 bytes), which the
    /// gateway's frame decoder refuses before any backend could.
    static let protocolError = GatewayCloseCode(rawValue: 1002)
    /// A compressed message (permessage-deflate) whose data is not valid DEFLATE.
    static let invalidPayload = GatewayCloseCode(rawValue: 1007)
    /// A message or frame larger than the connection's limit (plan, API, else
    /// `GATEWAY_MAX_MESSAGE_BYTES`), or one that decompresses to more; the other side gets 1001.
    static let messageTooBig = GatewayCloseCode(rawValue: 1009)
    /// The backend vanished without a close, or failed.
    static let backendFailed = GatewayCloseCode(rawValue: 1011)
    /// The connection's credentials are no longer valid: the token was revoked or expired.
    static let invalidCredentials = GatewayCloseCode(rawValue: 4001)
    /// Access was withdrawn: subscription deleted or blocked, application deleted, API blocked,
    /// retired or deprecated for this caller.
    static let forbidden = GatewayCloseCode(rawValue: 4002)
    /// Over the plan's event limit (or the application's, or the API's ceiling) when the plan's
    /// excess action is `close`. With `drop`, the message is dropped and the client receives the
    /// text frame `{"error":"rate_limited","code":4003,"retryAfterMs":N}` instead.
    static let rateLimited = GatewayCloseCode(rawValue: 4003)

    /// A code the API's backend asks for when it disconnects a client through the connection
    /// management API: 1000, or one of the application's own, 4000–4999; nil otherwise.
    static func requested(_ code: Int) -> GatewayCloseCode? {
        ConnectionCall.isAllowedCloseCode(code) ? GatewayCloseCode(rawValue: UInt16(code)) : nil
    }

    var errorCode: WebSocketErrorCode { WebSocketErrorCode(codeNumber: Int(rawValue)) }
}
