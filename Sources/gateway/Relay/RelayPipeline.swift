import NIOCore
import NIOWebSocket
import WebSocketWire

/// The one switch from HTTP to WebSocket, for both sides of a connection: once a side's handshake
/// is done (the client's 101 written, the backend's 101 read), its HTTP handlers give way to the
/// frame codec, the frame rules, permessage-deflate when it was negotiated, and the side's relay
/// handler. The HTTP decoder goes last, handing any bytes after the handshake (frames a backend
/// sent with its 101) to the frame decoder; the relay handler holds what it writes until then.
enum RelayPipeline {
    static func switchToWebSocket(
        _ pipeline: ChannelPipeline.SynchronousOperations, relay: RelayHandler, httpDecoder: any RemovableChannelHandler,
        replacing handshakeHandlers: [any RemovableChannelHandler], deflate: PerMessageDeflate.Parameters?, maxMessageBytes: Int
    ) throws {
        try pipeline.addHandler(relay)
        if let deflate {
            try pipeline.addHandler(PerMessageDeflateHandler(parameters: deflate, maxFrameBytes: maxMessageBytes), position: .before(relay))
        }
        for handler in handshakeHandlers { pipeline.removeHandler(handler, promise: nil) }
        // Compressed frames are bounded by what they may inflate to; a control frame may always be 125 bytes.
        let frameLimit = deflate == nil ? maxMessageBytes : PerMessageDeflate.maxFrameBytes(forMessageLimit: maxMessageBytes)
        try pipeline.addHandlers(
            [ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: max(125, frameLimit))),
             FrameCheckHandler(sender: relay.side == .client ? .client : .server, compressionNegotiated: deflate != nil),
             WebSocketFrameEncoder()],
            position: .after(httpDecoder))
        let decoderLeft = relay.connection.eventLoop.makePromise(of: Void.self)
        decoderLeft.futureResult.assumeIsolated().whenSuccess { relay.decoderLeft() }
        pipeline.removeHandler(httpDecoder, promise: decoderLeft)
    }
}
