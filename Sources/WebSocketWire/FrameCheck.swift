import NIOCore
import NIOWebSocket

/// What RFC 6455 (and RFC 7692, when permessage-deflate is negotiated) requires of every frame one
/// peer sends, checked where frames come in — before any extension, relay or echo sees them:
/// - a client masks every frame, a server none (§5.1, §5.3);
/// - no reserved opcode (§5.2), no RSV bit but RSV1 on the first frame of a compressed message
///   when permessage-deflate was negotiated (RFC 7692 §6);
/// - data frames in order: no continuation outside a message, no new message inside one (§5.4);
/// - a close frame has no payload or a valid code (§7.4: 1000–1003, 1007–1014, 3000–4999) and a
///   UTF-8 reason (§5.5.1).
/// The length and fragmentation of control frames are the frame parser's to check. One value per
/// sender: it remembers whether a message is half way through.
public struct FrameRules: Sendable {
    public enum Sender: Sendable { case client, server }

    let sender: Sender
    let compressionNegotiated: Bool
    private var inMessage = false

    public init(sender: Sender, compressionNegotiated: Bool) {
        self.sender = sender
        self.compressionNegotiated = compressionNegotiated
    }

    /// The violation a frame commits, or nil; `closePayload` (the unmasked payload) is read only
    /// for a close frame.
    public mutating func check(
        fin: Bool,
        rsv1: Bool,
        rsv2: Bool,
        rsv3: Bool,
        opcode: WebSocketOpcode,
        masked: Bool,
        closePayload: @autoclosure () -> ByteBuffer
    ) -> FrameViolation? {
        switch sender {
        case .client where !masked: return .protocolError("unmasked frame from a client")
        case .server where masked: return .protocolError("masked frame from a server")
        default: break
        }
        if rsv2 || rsv3 { return .protocolError("reserved bit set") }
        switch opcode {
        case .text, .binary:
            if inMessage { return .protocolError("new message inside a fragmented one") }
            if rsv1 && !compressionNegotiated { return .protocolError("reserved bit set") }
            inMessage = !fin
        case .continuation:
            if !inMessage { return .protocolError("continuation frame without a message") }
            if rsv1 { return .protocolError("RSV1 on a continuation frame") }
            inMessage = !fin
        case .connectionClose:
            if rsv1 { return .protocolError("reserved bit set on a control frame") }
            return Self.checkClose(payload: closePayload())
        case .ping, .pong:
            if rsv1 { return .protocolError("reserved bit set on a control frame") }
        default:
            return .protocolError("reserved opcode")
        }
        return nil
    }

    /// A close frame's payload: empty, or a valid code and a UTF-8 reason.
    public static func checkClose(payload: ByteBuffer) -> FrameViolation? {
        var payload = payload
        guard payload.readableBytes > 0 else { return nil }
        guard let code = payload.readInteger(as: UInt16.self) else { return .protocolError("close frame payload of one byte") }
        guard isValidCloseCode(code) else { return .protocolError("invalid close code \(code)") }
        var validator = UTF8Validator()
        guard validator.feed(payload.readableBytesView), validator.isComplete else {
            return .invalidPayload("close reason is not UTF-8")
        }
        return nil
    }

    /// The codes a close frame may carry (RFC 6455 §7.4 and the IANA registry): never 1004–1006 or
    /// 1015, which are reserved or only for reporting, nor anything under 1000 or from 1016 to 2999.
    public static func isValidCloseCode(_ code: UInt16) -> Bool {
        (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
    }
}

/// `FrameRules` as a handler, for pipelines that decode frames with NIO's `WebSocketFrameDecoder`
/// (the echo backend, and the gateway's sides that inflate permessage-deflate). A violation is
/// fired as `FrameViolation`; the handler stops passing frames on after it.
public final class FrameCheckHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = WebSocketFrame
    public typealias Sender = FrameRules.Sender

    private var rules: FrameRules
    private var failed = false

    public init(sender: Sender, compressionNegotiated: Bool) {
        rules = FrameRules(sender: sender, compressionNegotiated: compressionNegotiated)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        if let violation = check(frame) {
            failed = true
            context.fireErrorCaught(violation)
            return
        }
        context.fireChannelRead(data)
    }

    func check(_ frame: WebSocketFrame) -> FrameViolation? {
        rules.check(
            fin: frame.fin,
            rsv1: frame.rsv1,
            rsv2: frame.rsv2,
            rsv3: frame.rsv3,
            opcode: frame.opcode,
            masked: frame.maskKey != nil,
            closePayload: frame.unmaskedData
        )
    }
}

/// A frame that breaks the protocol: the close code the receiver answers with (1002, or 1007 for
/// text that is not UTF-8) and a reason for the close frame and the log.
public enum FrameViolation: Error, Equatable, Sendable {
    case protocolError(String)
    case invalidPayload(String)

    public var code: WebSocketErrorCode {
        switch self {
        case .protocolError: .protocolError
        case .invalidPayload: .dataInconsistentWithMessage
        }
    }

    public var reason: String {
        switch self {
        case .protocolError(let reason), .invalidPayload(let reason): reason
        }
    }
}
