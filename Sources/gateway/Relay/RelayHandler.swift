import NIOCore
import NIOWebSocket
import WebSocketWire

/// One side of a relayed connection: the thin NIO handler that pumps frames to the other side's
/// and executes what the connection's state machines decide (`ConnectionLife` for the close
/// handshake, `MessageFate` for each message). Frames read from this side's channel are written to
/// the peer's, unchanged but for masking (frames to the backend are masked, frames to the client
/// are not). Both channels live on one event loop, so the pair talks directly.
///
/// Backpressure: `autoRead` is off; a side reads only while its peer's channel is writable, so a
/// peer that does not read stops the gateway reading from the other side, and at most one read
/// plus the channel's write-buffer high-water mark is held per direction.
final class RelayHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let side: RelaySide
    let connection: RelayedConnection
    private(set) var context: ChannelHandlerContext?
    private(set) var peer: RelayHandler?
    /// Frames read before the link (a backend's first frames arrive with its 101).
    private var pending: [WebSocketFrame] = []
    /// Set while this side waits for its peer to become writable before reading again.
    private var waitingForPeer = false
    private var fate = MessageFate()
    /// Frames read from this side since the last keep-alive ping, and whether that ping is unanswered.
    private var framesSincePing = 0
    private var pingOutstanding = false

    /// Frames for this side held until the HTTP decoder in front of it has left the pipeline: the
    /// backend's HTTP response decoder watches what is written and takes only HTTP requests, while
    /// the bytes that came with the 101 are still being decoded into frames (which may already make
    /// the gateway write, e.g. a close for a broken first frame). nil once writes go straight out.
    private var held: [(frame: WebSocketFrame, thenClose: Bool)]?
    /// The gateway has closed this side: what it still sends is read and dropped, so that the
    /// socket closes with a FIN once it has, not a reset that could lose the close frame.
    private var discarding = false

    init(side: RelaySide, connection: RelayedConnection) {
        self.side = side
        self.connection = connection
        held = side == .backend ? [] : nil
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Links the two sides and starts reading on both: the backend's frames read before the link
    /// go to the client first, then what was decided meanwhile.
    static func link(client: RelayHandler, backend: RelayHandler) {
        client.peer = backend
        backend.peer = client
        client.connection.life.link()
        for frame in backend.pending { backend.forward(frame) }
        backend.pending.removeAll()
        client.context?.flush()
        client.connection.run(client.connection.life.settleLink())
        client.context?.read()
        backend.context?.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !discarding else { return }
        let frame = unwrapInboundIn(data)
        framesSincePing &+= 1
        if peer == nil {
            pending.append(frame)
        } else {
            forward(frame)
        }
    }

    /// Frames that a departing HTTP decoder hands on come in a task of their own, after the read
    /// that carried them has completed, so no `channelReadComplete` flushes them: the handshake
    /// calls this once that decoder has left the pipeline.
    func decoderLeft() {
        if let frames = held {
            held = nil
            for (frame, thenClose) in frames { emit(frame, flush: false, thenClose: thenClose) }
            context?.flush()
        }
        peer?.context?.flush()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if discarding {
            context.read()
            return
        }
        guard let peer, let peerContext = peer.context else { return }
        peerContext.flush()
        if peerContext.channel.isWritable {
            context.read()
        } else {
            waitingForPeer = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let peer, peer.waitingForPeer {
            peer.waitingForPeer = false
            peer.context?.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.run(connection.life.gone(side))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Once this side is being closed, later errors (a decoder in its error state answers every
        // further read with one) change nothing: the close is on its way, the grace period bounds it.
        guard !discarding else { return }
        let broke = "peer broke the WebSocket protocol"
        let actions: [ConnectionLife.Action]
        if let violation = error as? FrameViolation {
            let code: GatewayCloseCode = violation.code == .protocolError ? .protocolError : .invalidPayload
            actions = connection.life.failed(side, code, reason: violation.reason, otherSideReason: broke, inOrder: true)
        } else if let failure = error as? DeflateFailure {
            let undecompressable = "peer sent a message the gateway could not decompress"
            switch failure {
            case .invalidData:
                actions = connection.life.failed(side, .invalidPayload, reason: "compressed message is not valid DEFLATE data",
                                                 otherSideReason: undecompressable)
            case .tooBig:
                actions = connection.life.failed(side, .messageTooBig, reason: "frame decompresses to more than the gateway accepts",
                                                 otherSideReason: undecompressable)
            }
        } else {
            switch error as? NIOWebSocketError {
            case .invalidFrameLength:
                actions = oversized(limit: nil)
            case .fragmentedControlFrame, .multiByteControlFrameLength:
                actions = connection.life.failed(side, .protocolError, reason: "invalid control frame", otherSideReason: broke)
            case nil:
                context.close(promise: nil)
                return
            }
        }
        connection.run(actions)
    }

    /// Sends this side's frame to the peer, unless the connection's limits or its close say otherwise.
    private func forward(_ frame: WebSocketFrame) {
        guard let peer else { return }
        switch frame.opcode {
        case .connectionClose:
            var payload = frame.unmaskedData
            // FrameCheckHandler let only a valid code (or none) and a UTF-8 reason through.
            let code = payload.readInteger(as: UInt16.self)
            let reason = payload.readString(length: payload.readableBytes) ?? ""
            connection.run(connection.life.closeRead(from: side, code: code, reason: reason), relaying: frame)
        case .pong where frame.length == Self.keepAlivePayload.count
                && frame.unmaskedData.readableBytesView.elementsEqual(Self.keepAlivePayload):
            return  // the answer to the gateway's own ping
        case .ping, .pong:
            peer.relay(frame)
        default:
            guard admits(frame) else { return }
            connection.relayed(from: side, bytes: frame.length, startsMessage: frame.opcode != .continuation)
            // Flushed when the read batch completes (`channelReadComplete`), or by `decoderLeft`.
            peer.relay(frame)
        }
    }

    /// A data frame passes the connection's limits: the message's size (over it, the connection is
    /// closed here) and its rate (a dropped message loses all its frames). Nothing passes once the
    /// gateway is closing the connection.
    private func admits(_ frame: WebSocketFrame) -> Bool {
        guard !connection.life.closingByGateway else { return false }
        let starts = frame.opcode != .continuation
        let limit = connection.policy.maxMessageBytes
        var overRate: Int?
        let verdict = fate.read(startsMessage: starts, length: frame.length, limit: limit) {
            overRate = connection.takeEvent(from: side, startsMessage: starts)
            return overRate == nil
        }
        // What the verdict makes the gateway write happens only now: writing touches `fate` too.
        switch verdict {
        case .tooBig:
            connection.run(oversized(limit: limit))
            return false
        case .drop:
            if let overRate { connection.overRate(retryAfterMs: overRate) }
            return false
        case .relay:
            return true
        }
    }

    /// A message or frame from this side over the connection's limit: 1009 to this side, 1001 to the other.
    private func oversized(limit: Int?) -> [ConnectionLife.Action] {
        let size = limit.map { "\($0) bytes" } ?? "the gateway accepts"
        return connection.life.failed(side, .messageTooBig, reason: "message larger than \(size)",
                                      otherSideReason: "peer sent a message larger than \(size)")
    }

    /// Writes a frame read from the other side to this one, masked when this side is the backend.
    func relay(_ frame: WebSocketFrame) {
        guard connection.life[side].writable || frame.opcode == .connectionClose else { return }
        let out = WebSocketFrame(
            fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3, opcode: frame.opcode,
            maskKey: side == .backend ? MaskKeys.next() : nil, data: frame.unmaskedData)
        emit(out, flush: false)
        if !frame.opcode.isControlOpcode {
            for due in fate.wrote(fin: frame.fin) { write(due) }
        }
    }

    /// Tells the client its message was dropped over a rate limit — after the message being
    /// written to it, if one is half written.
    func notifyRateLimited(retryAfterMs: Int) {
        _ = send(.notice(retryAfterMs: retryAfterMs))
    }

    /// One of the gateway's own messages for this side, now or after the half-written message.
    func send(_ outgoing: MessageFate.Outgoing) -> MessageFate.Send {
        guard connection.life[side].writable else { return .full }
        let decision = fate.send(outgoing)
        if decision == .now { write(outgoing) }
        return decision
    }

    private func write(_ outgoing: MessageFate.Outgoing) {
        guard let context, connection.life[side].writable else { return }
        switch outgoing {
        case .notice(let retryAfterMs):
            var data = context.channel.allocator.buffer(capacity: 64)
            data.writeString(#"{"error":"rate_limited","code":4003,"retryAfterMs":\#(retryAfterMs)}"#)
            emit(WebSocketFrame(fin: true, opcode: .text, data: data), flush: true)
        case .message(let payload, let binary):
            emit(WebSocketFrame(fin: true, opcode: binary ? .binary : .text, maskKey: side == .backend ? MaskKeys.next() : nil, data: payload),
                 flush: true)
        }
    }

    static let keepAlivePayload = Array("portico-keepalive".utf8)

    /// The gateway's own ping. A side that sent nothing since the previous one — not even its pong —
    /// is dead: its socket is closed, and the other side learns as when it vanishes.
    func keepAlive() {
        guard let context, connection.life[side].writable else { return }
        if pingOutstanding && framesSincePing == 0 {
            context.close(promise: nil)
            return
        }
        framesSincePing = 0
        pingOutstanding = true
        let data = context.channel.allocator.buffer(bytes: Self.keepAlivePayload)
        emit(WebSocketFrame(fin: true, opcode: .ping, maskKey: side == .backend ? MaskKeys.next() : nil, data: data), flush: true)
    }

    /// Writes the gateway's own close frame; with `thenClose`, the side is shut once it is written.
    func writeClose(_ code: GatewayCloseCode, reason: String, thenClose: Bool) {
        guard let context else { return }
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code.errorCode)
        data.writeString(reason)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: side == .backend ? MaskKeys.next() : nil, data: data)
        emit(frame, flush: true, thenClose: thenClose)
    }

    /// Closes this side's channel now, what was written to it flushed first.
    func closeNow() {
        context?.flush()
        context?.close(promise: nil)
    }

    /// Writes a frame to this side (held while the HTTP decoder is still there); with `thenClose`,
    /// the side is shut once the frame is written (`finishClosing`).
    private func emit(_ frame: WebSocketFrame, flush: Bool, thenClose: Bool = false) {
        guard let context else { return }
        if held != nil {
            held?.append((frame, thenClose))
            return
        }
        let promise: EventLoopPromise<Void>? = thenClose ? context.eventLoop.makePromise() : nil
        promise?.futureResult.assumeIsolated().whenComplete { [self] _ in finishClosing() }
        if flush {
            context.writeAndFlush(wrapOutboundOut(frame), promise: promise)
        } else {
            context.write(wrapOutboundOut(frame), promise: promise)
        }
    }

    /// After the gateway's close frame to this side: the output is shut (a FIN after the frame),
    /// the input read and dropped until the side closes too, or the connection's close grace (armed
    /// with the close, `RelayedConnection.run`) has passed. Closing at once would reset a connection whose peer is still
    /// sending (a flooding backend), and a reset can discard the close frame before the peer reads it.
    private func finishClosing() {
        guard let context, !connection.life[side].gone else { return }
        discarding = true
        let halfClosed = context.eventLoop.makePromise(of: Void.self)
        halfClosed.futureResult.assumeIsolated().whenComplete { result in
            if case .failure = result { context.close(promise: nil) } else { context.read() }
        }
        context.close(mode: .output, promise: halfClosed)
    }
}
