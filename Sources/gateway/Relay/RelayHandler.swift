import NIOCore
import NIOWebSocket
import WebSocketWire

/// One side of a relayed connection: the thin NIO handler that pumps frames to the other side's
/// and executes what the connection's state machines decide (`ConnectionLife` for the close
/// handshake, `MessageFate` for each message). Both channels live on one event loop, so the pair
/// talks directly.
///
/// The relay moves bytes: a side without permessage-deflate is read by a `FrameReader` straight
/// from the socket's buffers — headers parsed in place, payloads kept as slices of what was read.
/// A frame from the backend goes to the client as the very bytes read; a frame to the backend is
/// written once into a new buffer, masked with a fresh key (`WireFrame.encoded`). A side that
/// negotiated permessage-deflate keeps NIO's frame decoder, the frame rules and the
/// compressor in front of this handler (`RelayPipeline`), which then reads and writes
/// `WebSocketFrame`s on that side.
///
/// Backpressure: `autoRead` is off; a side reads only while its peer's channel is writable, so a
/// peer that does not read stops the gateway reading from the other side, and at most one read
/// plus the channel's write-buffer high-water mark is held per direction.
final class RelayHandler: ChannelInboundHandler, RemovableChannelHandler, RelayPeer {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let side: RelaySide
    let connection: RelayedConnection
    private(set) var context: ChannelHandlerContext?
    /// The other side: the backend's handler for the client's, and the other way round.
    private(set) var peer: (any RelayPeer)?
    /// Reads this side's frames from its bytes; nil when the side negotiated permessage-deflate
    /// (its frames then come decoded, through `read(_:)`, and go out as `WebSocketFrame`s).
    var reader: FrameReader?
    /// The start of a frame not yet complete, kept for the next read.
    private var unread: ByteBuffer?
    /// Frames read before the link (a backend's first frames arrive with its 101).
    private var pending: [WireFrame] = []
    /// Set while this side waits for its peer to become writable before reading again.
    private var waitingForPeer = false
    private var fate = MessageFate()
    /// Frames read from this side since the last keep-alive ping, and whether that ping is unanswered.
    private var framesSincePing = 0
    private var pingOutstanding = false

    /// The gateway has closed this side, or the side broke the protocol: what it still sends is
    /// read and dropped, so that the socket closes with a FIN once it has, not a reset that could
    /// lose the close frame.
    private var discarding = false

    init(side: RelaySide, connection: RelayedConnection) {
        self.side = side
        self.connection = connection
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

    /// Links the client with an API's route table (`RoutePeer`) and starts reading the client.
    static func link(client: RelayHandler, routes: RoutePeer) {
        client.peer = routes
        client.connection.life.link()
        client.connection.run(client.connection.life.settleLink())
        client.context?.read()
    }

    /// Bytes from this side's socket (a side without permessage-deflate): every whole frame in them
    /// is read and forwarded; the start of one not yet whole waits for the next read.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !discarding, reader != nil else { return }
        var buffer = unwrapInboundIn(data)
        if var earlier = unread {
            unread = nil
            earlier.discardReadBytes()
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        do throws(FrameReader.Failure) {
            while !discarding, let frame = try reader!.next(from: &buffer) {
                read(frame)
            }
        } catch {
            discarding = true
            failed(reading: error)
            return
        }
        if buffer.readableBytes > 0 && !discarding { unread = buffer }
    }

    /// One frame from this side, whole and checked.
    func read(_ frame: WireFrame) {
        guard !discarding else { return }
        framesSincePing &+= 1
        if peer == nil {
            pending.append(frame)
        } else {
            forward(frame)
        }
    }

    /// Frames that a departing HTTP decoder hands on (the client's: NIO's decoder) come in a task
    /// of their own, after the read that carried them has completed, so no `channelReadComplete`
    /// flushes what they made the peer write: the handshake calls this once that decoder has left
    /// the pipeline.
    func decoderLeft() {
        peer?.flushRelayed()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if discarding {
            // What this read relayed before the side broke a rule or was closed still goes out.
            peer?.flushRelayed()
            context.read()
            return
        }
        guard let peer else { return }
        peer.flushRelayed()
        if peer.takesMore {
            context.read()
        } else {
            waitingForPeer = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { peer?.peerTakesMore() }
        context.fireChannelWritabilityChanged()
    }

    func flushRelayed() {
        context?.flush()
    }

    var takesMore: Bool {
        context?.channel.isWritable ?? false
    }

    func peerTakesMore() {
        guard waitingForPeer else { return }
        waitingForPeer = false
        context?.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.run(connection.life.gone(side))
        context.fireChannelInactive()
    }

    /// An error from the pipeline in front (a side with permessage-deflate: NIO's frame decoder,
    /// the frame rules, the decompressor).
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Once this side is being closed, later errors (a decoder in its error state answers every
        // further read with one) change nothing: the close is on its way, the grace period bounds it.
        guard !discarding else { return }
        if let violation = error as? FrameViolation {
            failed(reading: .violation(violation))
        } else if let failure = error as? DeflateFailure {
            let undecompressable = "peer sent a message the gateway could not decompress"
            switch failure {
            case .invalidData:
                connection.run(
                    connection.life.failed(
                        side,
                        .invalidPayload,
                        reason: "compressed message is not valid DEFLATE data",
                        otherSideReason: undecompressable
                    )
                )
            case .tooBig:
                connection.run(
                    connection.life.failed(
                        side,
                        .messageTooBig,
                        reason: "frame decompresses to more than the gateway accepts",
                        otherSideReason: undecompressable
                    )
                )
            }
        } else {
            switch error as? NIOWebSocketError {
            case .invalidFrameLength:
                failed(reading: .tooLong)
            case .fragmentedControlFrame, .multiByteControlFrameLength:
                failed(reading: .invalidControlFrame)
            case nil:
                context.close(promise: nil)
            }
        }
    }

    /// This side sent what cannot be read: a frame that breaks RFC 6455 (its code to this side,
    /// after the backend's answer when this side is the client), or one over the size limit.
    private func failed(reading failure: FrameReader.Failure) {
        let broke = "peer broke the WebSocket protocol"
        switch failure {
        case .violation(let violation):
            let code: GatewayCloseCode = violation.code == .protocolError ? .protocolError : .invalidPayload
            connection.run(connection.life.failed(side, code, reason: violation.reason, otherSideReason: broke, inOrder: true))
        case .tooLong:
            connection.run(oversized(limit: nil))
        case .invalidControlFrame:
            connection.run(connection.life.failed(side, .protocolError, reason: "invalid control frame", otherSideReason: broke))
        }
    }

    /// Sends this side's frame to the peer, unless the connection's limits or its close say otherwise.
    private func forward(_ frame: WireFrame) {
        guard let peer else { return }
        switch frame.opcode {
        case .connectionClose:
            var payload = frame.unmaskedPayload
            // The frame rules let only a valid code (or none) and a UTF-8 reason through.
            let code = payload.readInteger(as: UInt16.self)
            let reason = payload.readString(length: payload.readableBytes) ?? ""
            connection.run(connection.life.closeRead(from: side, code: code, reason: reason), relaying: frame)
        case .pong
        where frame.length == Self.keepAlivePayload.count
            && frame.unmaskedPayload.readableBytesView.elementsEqual(Self.keepAlivePayload):
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
    private func admits(_ frame: WireFrame) -> Bool {
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
        return connection.life.failed(
            side,
            .messageTooBig,
            reason: "message larger than \(size)",
            otherSideReason: "peer sent a message larger than \(size)"
        )
    }

    /// Writes a frame read from the other side to this one.
    func relay(_ frame: WireFrame) {
        guard connection.life[side].writable || frame.opcode == .connectionClose else { return }
        emit(outbound(frame), flush: false)
        if !frame.opcode.isControlOpcode {
            for due in fate.wrote(fin: frame.fin) { write(due) }
        }
    }

    /// A frame as this side gets it. The client: the bytes as read when they came unmasked from a
    /// backend, else re-encoded unmasked. The backend: re-encoded with a fresh masking key from
    /// the kernel's CSPRNG (`MaskKeys`) — never the client's key, which the client chose and knows.
    /// A side with permessage-deflate: a `WebSocketFrame` for its compressor.
    private func outbound(_ frame: WireFrame) -> NIOAny {
        let mask = side == .backend ? MaskKeys.next() : nil
        if reader == nil {
            return NIOAny(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, maskKey: mask.map(WireMask.key), data: frame.unmaskedPayload))
        }
        if mask == nil, frame.mask == nil, let wire = frame.wire {
            return NIOAny(wire)
        }
        return NIOAny(frame.encoded(mask: mask, allocator: Self.allocator))
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
        guard connection.life[side].writable else { return }
        switch outgoing {
        case .notice(let retryAfterMs):
            let data = ByteBuffer(string: #"{"error":"rate_limited","code":4003,"retryAfterMs":\#(retryAfterMs)}"#)
            emit(outbound(.own(.text, data)), flush: true)
        case .message(let payload, let binary):
            emit(outbound(.own(binary ? .binary : .text, payload)), flush: true)
        }
    }

    static let keepAlivePayload = Array("portico-keepalive".utf8)
    private static let allocator = ByteBufferAllocator()

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
        emit(outbound(.own(.ping, ByteBuffer(bytes: Self.keepAlivePayload))), flush: true)
    }

    /// Writes the gateway's own close frame; with `thenClose`, the side is shut once it is written.
    func writeClose(_ code: GatewayCloseCode, reason: String, thenClose: Bool) {
        var data = ByteBuffer()
        data.reserveCapacity(2 + reason.utf8.count)
        data.write(webSocketErrorCode: code.errorCode)
        data.writeString(reason)
        emit(outbound(.own(.connectionClose, data)), flush: true, thenClose: thenClose)
    }

    /// Closes this side's channel now, what was written to it flushed first.
    func closeNow() {
        context?.flush()
        context?.close(promise: nil)
    }

    /// Writes to this side; with `thenClose`, the side is shut once the write is done
    /// (`finishClosing`).
    private func emit(_ data: NIOAny, flush: Bool, thenClose: Bool = false) {
        guard let context else { return }
        let promise: EventLoopPromise<Void>? = thenClose ? context.eventLoop.makePromise() : nil
        promise?.futureResult.assumeIsolated().whenComplete { [self] _ in finishClosing() }
        if flush {
            context.writeAndFlush(data, promise: promise)
        } else {
            context.write(data, promise: promise)
        }
    }

    /// After the gateway's close frame to this side: the output is shut (a FIN after the frame),
    /// the input read and dropped until the side closes too, or the connection's close grace (armed
    /// with the close, `RelayedConnection.run`) has passed. Closing at once would reset a connection whose peer is still
    /// sending (a flooding backend), and a reset can discard the close frame before the peer reads it.
    private func finishClosing() {
        guard let context, !connection.life[side].gone else { return }
        discarding = true
        unread = nil
        let halfClosed = context.eventLoop.makePromise(of: Void.self)
        halfClosed.futureResult.assumeIsolated().whenComplete { result in
            if case .failure = result { context.close(promise: nil) } else { context.read() }
        }
        context.close(mode: .output, promise: halfClosed)
    }
}
