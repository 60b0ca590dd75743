import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import PorticoCore
import WebSocketWire

extension Backend {
    static func acceptValue(for key: String) -> String {
        Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }
}

/// The backend handshake's result, completed once by whichever comes first: the response, a
/// connect failure or the time-out.
final class HandshakeOutcome: Sendable {
    private let promise: EventLoopPromise<HTTPResponseHead>
    private let done = NIOLockedValueBox(false)

    init(_ promise: EventLoopPromise<HTTPResponseHead>) {
        self.promise = promise
    }

    var futureResult: EventLoopFuture<HTTPResponseHead> { promise.futureResult }

    func complete(_ result: Result<HTTPResponseHead, any Error>) {
        let first = done.withLockedValue { done in
            defer { done = true }
            return !done
        }
        if first { promise.completeWith(result) }
    }
}

/// Sends the backend handshake request and reports the response head once the response has ended
/// (acting earlier would let the decoder hand its end to the frame decoder).
final class BackendHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let head: HTTPRequestHead
    private let outcome: HandshakeOutcome
    private var received: HTTPResponseHead?

    init(head: HTTPRequestHead, outcome: HandshakeOutcome) {
        self.head = head
        self.outcome = outcome
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            received = head
            if head.status != .switchingProtocols {
                // A refusal may come with a body we do not need: answer now.
                outcome.complete(.success(head))
            }
        case .body:
            break
        case .end:
            if let received { outcome.complete(.success(received)) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        outcome.complete(.failure(Backend.Failure.unreachable("the backend closed the connection during the handshake")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        outcome.complete(.failure(Backend.Failure.unreachable("\(error)")))
        context.close(promise: nil)
    }
}
