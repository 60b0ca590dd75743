import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A sample WebSocket backend for the walk-through and the tests: it echoes every frame as it
/// came (text, binary, fragments), answers pings, and echoes a close's code and reason back.
/// It picks the first subprotocol a client offers. On the path `/inspect` it first sends one text
/// frame describing the handshake it received (path, query, headers), then echoes. On `/flood` it
/// sends 64 KiB binary frames as fast as its peer takes them. Every close it receives is printed
/// (`close <code> <reason>`), so a test can see what reached the backend.
///
///   echo-backend [--host 127.0.0.1] [--port 9100]
@main
struct EchoBackend {
    static func main() throws {
        var host = "127.0.0.1"
        var port = 9100
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--host": host = arguments.next() ?? host
            case "--port": port = arguments.next().flatMap(Int.init) ?? port
            default:
                FileHandle.standardError.write(Data("usage: echo-backend [--host ADDRESS] [--port PORT]\n".utf8))
                exit(2)
            }
        }
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: 64 * 1024 * 1024,
                    shouldUpgrade: { channel, head in
                        var headers = HTTPHeaders()
                        if let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].first {
                            headers.add(name: "Sec-WebSocket-Protocol", value: String(offered))
                        }
                        return channel.eventLoop.makeSucceededFuture(headers)
                    },
                    upgradePipelineHandler: { channel, head in
                        channel.pipeline.addHandler(EchoHandler(inspect: head.uri.hasPrefix("/inspect") ? head : nil,
                                                                flood: head.uri.hasPrefix("/flood")))
                    })
                return channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: host, port: port)
            .wait()
        FileHandle.standardOutput.write(Data("echo-backend listening on ws://\(host):\(port)\n".utf8))
        try channel.closeFuture.wait()
    }
}

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let inspect: HTTPRequestHead?
    let flood: Bool
    private var closing = false

    init(inspect: HTTPRequestHead?, flood: Bool) {
        self.inspect = inspect
        self.flood = flood
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if flood { pump(context: context) }
        guard let inspect, context.channel.isActive else { return }
        var headers: [String: String] = [:]
        for (name, value) in inspect.headers { headers[name.lowercased()] = headers[name.lowercased()].map { "\($0), \(value)" } ?? value }
        let uri = inspect.uri
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let query = uri.contains("?") ? String(uri.split(separator: "?", maxSplits: 1)[1]) : ""
        let json = (try? JSONSerialization.data(withJSONObject: ["path": path, "query": query, "headers": headers], options: [.sortedKeys])) ?? Data()
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

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            var reason = frame.unmaskedData
            let code = reason.readInteger(as: UInt16.self).map(String.init) ?? "none"
            FileHandle.standardOutput.write(Data("close \(code) \(reason.readString(length: reason.readableBytes) ?? "")\n".utf8))
            if closing {
                context.close(promise: nil)
                return
            }
            closing = true
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in context.close(promise: nil) }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        default:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
