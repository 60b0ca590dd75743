import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Sends one WebSocket upgrade request and returns the response head, to look at what a
/// WebSocket library hides (the 101's headers, a refusal's headers).
package enum RawHandshake {
    package static func perform(_ gatewayURL: String, path: String, headers: [(String, String)]) async throws -> HTTPResponseHead {
        try await performReadingBody(gatewayURL, path: path, headers: headers).head
    }

    /// As `perform`, with the response's body (a refusal's JSON) read to its end.
    package static func performReadingBody(
        _ gatewayURL: String,
        path: String,
        headers: [(String, String)] = []
    ) async throws
        -> (head: HTTPResponseHead, body: JSON)
    {
        let url = URL(string: gatewayURL)!
        let promise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: (HTTPResponseHead, ByteBuffer).self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.pipeline.addHTTPClientHandlers().flatMap {
                        channel.pipeline.addHandler(ResponseCatcher(promise: promise))
                    }
                }
                .connect(host: url.host!, port: url.port!).get()
        } catch {
            promise.fail(error)  // nothing listens (yet): no promise left behind
            throw error
        }
        var request = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        request.headers.add(name: "Host", value: "\(url.host!):\(url.port!)")
        request.headers.add(name: "Upgrade", value: "websocket")
        request.headers.add(name: "Connection", value: "Upgrade")
        request.headers.add(name: "Sec-WebSocket-Key", value: "dGhlIHNhbXBsZSBub25jZQ==")
        request.headers.add(name: "Sec-WebSocket-Version", value: "13")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        channel.write(HTTPClientRequestPart.head(request), promise: nil)
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        let (head, body) = try await promise.futureResult.get()
        try? await channel.close()
        return (head, JSON(parsing: Data(body.readableBytesView)))
    }

    /// Completes a handshake (the token in the path's query) and returns the raw TCP channel,
    /// which then reads nothing: a client that stopped reading.
    package static func open(_ gatewayURL: String, path: String) async throws -> any Channel {
        let url = URL(string: gatewayURL)!
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 16 * 1024)
            .connect(host: url.host!, port: url.port!).get()
        var request = ByteBuffer(
            string: "GET \(path) HTTP/1.1\r\nHost: \(url.host!)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        try await channel.writeAndFlush(request).get()
        request.clear()
        return channel
    }

    final class ResponseCatcher: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<(HTTPResponseHead, ByteBuffer)>
        private var head: HTTPResponseHead?
        private var body = ByteBuffer()
        init(promise: EventLoopPromise<(HTTPResponseHead, ByteBuffer)>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                // A 101's connection carries frames next, not an HTTP end.
                if head.status == .switchingProtocols { promise.succeed((head, body)) }
            case .body(var part):
                body.writeBuffer(&part)
            case .end:
                if let head { promise.succeed((head, body)) }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ChannelError.eof)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
        }
    }
}
