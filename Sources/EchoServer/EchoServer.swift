import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import WebSocketWire

/// The sample WebSocket backend, as a library: the `echo-backend` executable wraps it, and tests
/// run it in-process. It echoes every frame as it came (text, binary, fragments), answers pings,
/// and echoes a close's code and reason back. It is strict as RFC 6455 asks (reserved bits and
/// opcodes, fragmentation, UTF-8, close codes), so that the Autobahn|Testsuite can hold the
/// gateway to the same verdicts. It picks the first subprotocol a client offers. On the path
/// `/inspect` it first sends one text frame describing the handshake it received (path, query,
/// headers), then echoes. On `/flood` it sends 64 KiB binary frames as fast as its peer takes them.
/// Every close it receives is reported to `onClose` (`close <code> <reason>`, or `close none `), so
/// that a test can see what reached the backend. With a TLS context it serves wss:// instead of
/// ws://; with `deflate` it accepts a client's permessage-deflate offer (RFC 7692), so the
/// conformance suite's compression cases have a backend to compare the gateway with.
public enum EchoServer {
    public static func start(
        host: String,
        port: Int,
        tls: NIOSSLContext? = nil,
        deflate: Bool = false,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onClose: @escaping @Sendable (String) -> Void
    ) async throws -> any Channel {
        let maxFrameSize = 64 * 1024 * 1024
        @Sendable func negotiated(_ head: HTTPRequestHead) -> (response: String, parameters: PerMessageDeflate.Parameters)? {
            deflate ? PerMessageDeflate.accept(offers: head.headers[canonicalForm: "Sec-WebSocket-Extensions"].map(String.init)) : nil
        }
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: maxFrameSize,
                    shouldUpgrade: { channel, head in
                        var headers = HTTPHeaders()
                        if let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].first {
                            headers.add(name: "Sec-WebSocket-Protocol", value: String(offered))
                        }
                        if let deflate = negotiated(head) {
                            headers.add(name: "Sec-WebSocket-Extensions", value: deflate.response)
                        }
                        return channel.eventLoop.makeSucceededFuture(headers)
                    },
                    upgradePipelineHandler: { channel, head in
                        channel.eventLoop.makeCompletedFuture {
                            let deflate = negotiated(head)
                            // The frame rules the gateway holds clients and backends to (masking,
                            // opcodes, RSV bits, order, close codes), checked before any extension.
                            try channel.pipeline.syncOperations.addHandler(
                                FrameCheckHandler(sender: .client, compressionNegotiated: deflate != nil)
                            )
                            if let deflate {
                                try channel.pipeline.syncOperations.addHandler(
                                    PerMessageDeflateHandler(parameters: deflate.parameters, maxFrameBytes: maxFrameSize)
                                )
                            }
                            try channel.pipeline.syncOperations.addHandler(
                                EchoHandler(
                                    inspect: head.uri.hasPrefix("/inspect") ? head : nil,
                                    flood: head.uri.hasPrefix("/flood"),
                                    onClose: onClose
                                )
                            )
                        }
                    }
                )
                if let tls {
                    do {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                }
                return channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: host, port: port)
            .get()
    }
}

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let inspect: HTTPRequestHead?
    let flood: Bool
    let onClose: @Sendable (String) -> Void
    private var closing = false

    init(inspect: HTTPRequestHead?, flood: Bool, onClose: @escaping @Sendable (String) -> Void) {
        self.inspect = inspect
        self.flood = flood
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if flood { pump(context: context) }
        guard let inspect, context.channel.isActive else { return }
        var headers: [String: String] = [:]
        for (name, value) in inspect.headers { headers[name.lowercased()] = headers[name.lowercased()].map { "\($0), \(value)" } ?? value }
        let uri = inspect.uri
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let query = uri.contains("?") ? String(uri.split(separator: "?", maxSplits: 1)[1]) : ""
        let json =
            (try? JSONSerialization.data(withJSONObject: ["path": path, "query": query, "headers": headers], options: [.sortedKeys])) ?? Data()
        var buffer = context.channel.allocator.buffer(capacity: json.count)
        buffer.writeBytes(json)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
    }

    /// Writes frames while the channel takes them; resumes when it becomes writable again.
    private func pump(context: ChannelHandlerContext) {
        let payload = context.channel.allocator.buffer(repeating: 0x42, count: 64 * 1024)
        while context.channel.isActive && context.channel.isWritable && !closing {
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: payload)), promise: nil)
        }
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if flood && context.channel.isWritable { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// The opcode of the fragmented message in progress, if any.
    private var fragmented: WebSocketOpcode?
    private var utf8 = UTF8Validator()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if closing {
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        // FrameCheckHandler has checked masking, opcodes, RSV bits, fragment order and close frames;
        // what is left is the text's UTF-8.
        switch frame.opcode {
        case .text, .binary:
            if frame.opcode == .text {
                utf8.reset()
                guard utf8.feed(frame.unmaskedData.readableBytesView), !frame.fin || utf8.isComplete else {
                    return fail(.dataInconsistentWithMessage, "invalid UTF-8", context: context)
                }
            }
            if !frame.fin { fragmented = frame.opcode }
            echo(frame, context: context)
        case .continuation:
            if fragmented == .text {
                guard utf8.feed(frame.unmaskedData.readableBytesView), !frame.fin || utf8.isComplete else {
                    return fail(.dataInconsistentWithMessage, "invalid UTF-8", context: context)
                }
            }
            if frame.fin { fragmented = nil }
            echo(frame, context: context)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            var payload = frame.unmaskedData
            if let code = payload.readInteger(as: UInt16.self) {
                onClose("close \(code) \(payload.readString(length: payload.readableBytes) ?? "")")
            } else {
                onClose("close none ")
            }
            closing = true
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default:
            break
        }
    }

    private func echo(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)), promise: nil)
    }

    /// Fails the connection (RFC 6455 §7.1.7): a close frame with `code`, then the TCP close.
    private func fail(_ code: WebSocketErrorCode, _ reason: String, context: ChannelHandlerContext) {
        closing = true
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let violation = error as? FrameViolation, !closing { return fail(violation.code, violation.reason, context: context) }
        context.close(promise: nil)
    }
}
