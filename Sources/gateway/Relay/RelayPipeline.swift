import NIOCore
import NIOWebSocket
import WebSocketWire

/// The one switch from HTTP to WebSocket, for both sides of a connection: once a side's handshake
/// is done (the client's 101 written, the backend's 101 read), its HTTP handlers give way to the
/// side's relay handler. Without permessage-deflate that is all: the relay reads frames from the
/// socket's bytes itself (`FrameReader`). With it, NIO's frame codec, the frame rules and the
/// compressor go in front, and the frames they decode reach the relay through `DecodedFrames`.
/// The handler that read the handshake goes last (the client's HTTP decoder, the backend's
/// `BackendHandshakeHandler`), handing any bytes after it (frames a backend sent with its 101) to
/// what follows it. Neither watches what is written, so the relay may write at once. The side's
/// socket reads once per wake-up from then on (`ReceiveBuffers`).
enum RelayPipeline {
    static func switchToWebSocket(
        _ channel: any Channel,
        relay: RelayHandler,
        httpDecoder: any RemovableChannelHandler,
        replacing handshakeHandlers: [any RemovableChannelHandler],
        deflate: PerMessageDeflate.Parameters?,
        maxMessageBytes: Int
    ) throws {
        let pipeline = channel.pipeline.syncOperations
        let sender: FrameRules.Sender = relay.side == .client ? .client : .server
        try ReceiveBuffers.settle(on: channel)
        try pipeline.addHandler(relay)
        for handler in handshakeHandlers { pipeline.removeHandler(handler, promise: nil) }
        // A control frame may always be 125 bytes.
        if let deflate {
            try pipeline.addHandlers(
                [
                    ByteToMessageHandler(
                        WebSocketFrameDecoder(maxFrameSize: max(125, PerMessageDeflate.maxFrameBytes(forMessageLimit: maxMessageBytes)))
                    ),
                    FrameCheckHandler(sender: sender, compressionNegotiated: true),
                    WebSocketFrameEncoder(),
                    PerMessageDeflateHandler(parameters: deflate, maxFrameBytes: maxMessageBytes),
                    DecodedFrames(relay),
                ],
                position: .after(httpDecoder)
            )
        } else {
            relay.reader = FrameReader(sender: sender, maxFrameBytes: max(125, maxMessageBytes))
        }
        let decoderLeft = relay.connection.eventLoop.makePromise(of: Void.self)
        decoderLeft.futureResult.assumeIsolated().whenSuccess { relay.decoderLeft() }
        pipeline.removeHandler(httpDecoder, promise: decoderLeft)
    }
}

/// Hands the frames that a permessage-deflate side's pipeline decoded and inflated to its relay.
private final class DecodedFrames: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame

    private let relay: RelayHandler

    init(_ relay: RelayHandler) {
        self.relay = relay
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        relay.read(WireFrame(unwrapInboundIn(data)))
    }
}
