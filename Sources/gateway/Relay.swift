import Atomics
import NIOCore
import NIOWebSocket
import WebSocketWire

/// One side of a relayed connection: the two-way frame pump. Frames read from this side's channel
/// are written to the peer's, unchanged but for masking (frames to the backend are masked, frames
/// to the client are not). Both channels live on one event loop, so the pair talks directly.
///
/// Backpressure: `autoRead` is off; a side reads only while its peer's channel is writable, so a
/// peer that does not read stops the gateway reading from the other side, and at most one read
/// plus the channel's write-buffer high-water mark is held per direction.
final class RelayHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    enum Side: String {
        case client, backend

        var initiator: ConnectionEnd.Initiator { self == .client ? .client : .backend }
    }

    let side: Side
    let connection: RelayedConnection
    private(set) var context: ChannelHandlerContext?
    private(set) var peer: RelayHandler?
    private var pending: [WebSocketFrame] = []
    /// Set while this side waits for its peer to become writable before reading again.
    private var waitingForPeer = false
    /// This side sent us a close frame.
    private var closeReceived = false
    /// We sent this side a close frame.
    private var closeSent = false
    /// The close frame this side got was the gateway's own decision (a limit, a protocol error,
    /// a live change), so the other side has been told what it gets: this side's end says nothing more.
    private var closedByGateway = false
    /// What the peer is to be sent once linked, when this side failed before the relay was linked
    /// (a backend's first frames arrive with its 101, before the client's side exists).
    private var peerCloseOnLink: (code: GatewayCloseCode, reason: String)?
    /// This side (a client) broke the protocol: it gets this close once the other side has answered
    /// the gateway's 1001 — so that what the backend still sends, the answers to the client's
    /// earlier messages, reaches the client first, in order, as from a backend alone.
    private var failing: (code: GatewayCloseCode, reason: String)?
    private var closed = false
    /// Frames read from this side since the last keep-alive ping, and whether that ping is unanswered.
    private var framesSincePing = 0
    private var pingOutstanding = false
    /// A data message to this side is half written (its last frame not yet sent): a notice waits.
    private var midMessage = false
    private var pendingNotice: Int?
    /// The data message being read from this side: its bytes so far, and whether it is dropped.
    private var messageBytes = 0
    private var droppingMessage = false

    /// Frames for this side held until the HTTP decoder in front of it has left the pipeline: the
    /// backend's HTTP response decoder watches what is written and takes only HTTP requests, while
    /// the bytes that came with the 101 are still being decoded into frames (which may already make
    /// the gateway write, e.g. a close for a broken first frame). nil once writes go straight out.
    private var held: [(frame: WebSocketFrame, thenClose: Bool)]?
    /// The gateway has closed this side: what it still sends is read and dropped, so that the
    /// socket closes with a FIN once it has, not a reset that could lose the close frame.
    private var discarding = false

    init(side: Side, connection: RelayedConnection) {
        self.side = side
        self.connection = connection
        held = side == .backend ? [] : nil
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Links the two sides and starts reading on both.
    static func link(client: RelayHandler, backend: RelayHandler) {
        client.peer = backend
        backend.peer = client
        for side in [client, backend] {
            for frame in side.pending { side.forward(frame) }
            side.pending.removeAll()
            side.peer?.context?.flush()
            if let (code, reason) = side.peerCloseOnLink {
                side.peerCloseOnLink = nil
                side.peer?.sendClose(code: code, reason: reason, thenClose: true)
            }
            side.context?.read()
        }
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

    /// After the gateway's close frame to this side: the output is shut (a FIN after the frame),
    /// the input read and dropped until the side closes too, or `closeGrace` has passed. Closing at
    /// once would reset a connection whose peer is still sending (a flooding backend), and a reset
    /// can discard the close frame before the peer reads it.
    private func finishClosing() {
        guard let context, !closed else { return }
        discarding = true
        let halfClosed = context.eventLoop.makePromise(of: Void.self)
        halfClosed.futureResult.assumeIsolated().whenComplete { result in
            if case .failure = result { context.close(promise: nil) } else { context.read() }
        }
        context.close(mode: .output, promise: halfClosed)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: RelayedConnection.closeGrace) { channel.close(promise: nil) }
    }

    /// Writes a frame to this side (held while the HTTP decoder is still there); with `thenClose`,
    /// the channel closes once the frame is written (`finishClosing`).
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
        closed = true
        connection.ended(nil, by: side.initiator, reason: "\(side.rawValue) went away without a close frame", vanished: true)
        connection.sideClosed(side)
        // The other side learns promptly: 1001 to the backend when the client vanished, 1011 to the
        // client when the backend did — unless the close handshake already ran, or the gateway
        // closed this side itself (then it has told the other side what it gets).
        if let peer, let failure = peer.failing {
            peer.failing = nil
            peer.sendClose(code: failure.code, reason: failure.reason, thenClose: true)
        } else if let peer, !peer.closed, !closedByGateway, !(closeReceived && closeSent) {
            peer.sendClose(code: side == .client ? .goingAway : .backendFailed,
                           reason: side == .client ? "client went away" : "backend went away", thenClose: true)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Once this side is being closed, later errors (a decoder in its error state answers every
        // further read with one) change nothing: the close is on its way, the grace period bounds it.
        guard !discarding, !closeSent, failing == nil else { return }
        if let violation = error as? FrameViolation {
            let code: GatewayCloseCode = violation.code == .protocolError ? .protocolError : .invalidPayload
            if side == .client, let peer, !peer.closed, !peer.closeSent {
                // Failed in order: the backend is closed first and what it still sends is relayed;
                // the client's own code follows the backend's answer (or the grace period's end).
                failing = (code, violation.reason)
                connection.ended(code.rawValue, by: .gateway, reason: violation.reason)
                peer.sendClose(code: .goingAway, reason: "peer broke the WebSocket protocol", thenClose: false)
                connection.closeEventually()
                return
            }
            sendClose(code: code, reason: violation.reason, thenClose: true)
            closePeer(.goingAway, reason: "peer broke the WebSocket protocol")
            return
        }
        if let failure = error as? DeflateFailure {
            switch failure {
            case .invalidData:
                sendClose(code: .invalidPayload, reason: "compressed message is not valid DEFLATE data", thenClose: true)
            case .tooBig:
                sendClose(code: .messageTooBig, reason: "frame decompresses to more than the gateway accepts", thenClose: true)
            }
            closePeer(.goingAway, reason: "peer sent a message the gateway could not decompress")
            return
        }
        switch error as? NIOWebSocketError {
        case .invalidFrameLength:
            refuseOversized(limit: nil)
        case .fragmentedControlFrame, .multiByteControlFrameLength:
            sendClose(code: .protocolError, reason: "invalid control frame", thenClose: true)
            closePeer(.goingAway, reason: "peer broke the WebSocket protocol")
        case nil:
            context.close(promise: nil)
        }
    }

    /// Sends this side's frame to the peer, masked when the peer is the backend, unless the
    /// connection's limits say otherwise.
    private func forward(_ frame: WebSocketFrame) {
        guard let peer else { return }
        if !frame.opcode.isControlOpcode {
            guard admits(frame) else { return }
        } else if frame.opcode == .pong && frame.length == Self.keepAlivePayload.count
                    && frame.unmaskedData.readableBytesView.elementsEqual(Self.keepAlivePayload) {
            return  // the answer to the gateway's own ping
        }
        if frame.opcode == .connectionClose {
            closeReceived = true
            var payload = frame.unmaskedData
            // FrameCheckHandler let only a valid code (or none) and a UTF-8 reason through.
            let code = payload.readInteger(as: UInt16.self)
            connection.ended(code, by: side.initiator, reason: payload.readString(length: payload.readableBytes) ?? "")
            if connection.isClosingByGateway {
                // The reply to a close the gateway started: the handshake is done on this side.
                context?.close(promise: nil)
                return
            }
        }
        if frame.opcode == .connectionClose, let failure = peer.failing {
            // The answer to the 1001 the gateway sent because the client broke the protocol: this
            // side's close handshake is done, and the client now gets its own code.
            peer.failing = nil
            peer.sendClose(code: failure.code, reason: failure.reason, thenClose: true)
            context?.close(promise: nil)
            return
        }
        if !frame.opcode.isControlOpcode {
            connection.relayed(from: side, bytes: frame.length, startsMessage: frame.opcode != .continuation)
        }
        // Flushed when the read batch completes (`channelReadComplete`), or by `decoderLeft`.
        peer.write(frame)
        if frame.opcode == .connectionClose {
            peer.closeSent = true
            if peer.closeReceived {
                // Both directions have closed: the close handshake is complete.
                peer.context?.flush()
                context?.close(promise: nil)
                peer.context?.close(promise: nil)
            } else {
                connection.closeEventually()
            }
        }
    }

    /// A data frame passes the connection's limits: the message's size (over it, the connection is
    /// closed here) and its rate (a dropped message loses all its frames). Nothing passes once the
    /// gateway is closing the connection.
    private func admits(_ frame: WebSocketFrame) -> Bool {
        guard !connection.isClosingByGateway else { return false }
        let starts = frame.opcode != .continuation
        messageBytes = starts ? frame.length : messageBytes + frame.length
        let limit = connection.policy.maxMessageBytes
        guard messageBytes <= limit else {
            refuseOversized(limit: limit)
            return false
        }
        let admitted = connection.admitsData(from: side, startsMessage: starts)
        if starts { droppingMessage = !admitted }
        return !droppingMessage && !connection.isClosingByGateway
    }

    private func write(_ frame: WebSocketFrame) {
        // Nothing follows a close frame the gateway sent this side.
        guard let context, !closed, !closeSent else { return }
        let out = WebSocketFrame(
            fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3, opcode: frame.opcode,
            maskKey: side == .backend ? .random() : nil, data: frame.unmaskedData)
        emit(out, flush: false)
        if !frame.opcode.isControlOpcode {
            midMessage = !frame.fin
            if !midMessage, let retryAfter = pendingNotice {
                pendingNotice = nil
                notifyRateLimited(retryAfterMs: retryAfter)
            }
        }
    }

    /// Tells the client its message was dropped over a rate limit — after the message being
    /// written to it, if one is half written.
    func notifyRateLimited(retryAfterMs: Int) {
        guard let context, !closed, !closeSent else { return }
        if midMessage {
            pendingNotice = retryAfterMs
            return
        }
        var data = context.channel.allocator.buffer(capacity: 64)
        data.writeString(#"{"error":"rate_limited","code":4003,"retryAfterMs":\#(retryAfterMs)}"#)
        emit(WebSocketFrame(fin: true, opcode: .text, data: data), flush: true)
    }

    /// A message or frame from this side over the connection's limit: 1009 to this side, 1001 to the other.
    func refuseOversized(limit: Int?) {
        let size = limit.map { "\($0) bytes" } ?? "the gateway accepts"
        sendClose(code: .messageTooBig, reason: "message larger than \(size)", thenClose: true)
        closePeer(.goingAway, reason: "peer sent a message larger than \(size)")
    }

    /// The gateway closes the other side because of this one: at once, or when linked.
    private func closePeer(_ code: GatewayCloseCode, reason: String) {
        if let peer {
            peer.sendClose(code: code, reason: reason, thenClose: true)
        } else {
            peerCloseOnLink = (code, reason)
        }
    }

    static let keepAlivePayload = Array("portico-keepalive".utf8)

    /// The gateway's own ping. A side that sent nothing since the previous one — not even its pong —
    /// is dead: its socket is closed, and the other side learns as when it vanishes.
    func keepAlive() {
        guard let context, !closed, !closeSent else { return }
        if pingOutstanding && framesSincePing == 0 {
            context.close(promise: nil)
            return
        }
        framesSincePing = 0
        pingOutstanding = true
        let data = context.channel.allocator.buffer(bytes: Self.keepAlivePayload)
        emit(WebSocketFrame(fin: true, opcode: .ping, maskKey: side == .backend ? .random() : nil, data: data), flush: true)
    }

    /// Sends a close frame the gateway itself decided on; with `thenClose`, the channel closes
    /// once it is written.
    func sendClose(code: GatewayCloseCode, reason: String, thenClose: Bool) {
        guard let context, !closed, !closeSent else {
            if thenClose { context?.close(promise: nil) }
            return
        }
        closeSent = true
        closedByGateway = true
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code.errorCode)
        data.writeString(reason)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: side == .backend ? .random() : nil, data: data)
        connection.ended(code.rawValue, by: .gateway, reason: reason)
        emit(frame, flush: true, thenClose: thenClose)
    }
}
