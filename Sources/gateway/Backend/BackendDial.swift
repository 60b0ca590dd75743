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
    /// Connects on `eventLoop` (the client's, so the relay pair shares one loop) and returns the
    /// backend's relay handler, reading paused, with the subprotocol the backend chose.
    static func connect(
        to target: Target,
        headers: HTTPHeaders,
        offeredProtocols: [String],
        on eventLoop: any EventLoop,
        settings: GatewaySettings,
        timeout seconds: TimeInterval,
        maxFrameBytes: Int,
        connection: RelayedConnection
    ) -> EventLoopFuture<(RelayHandler, String?)> {
        // RFC 6455 §4.1: a random 16-byte nonce, from the same pooled CSPRNG bytes as the masking
        // keys (sixteen `UInt8.random` calls were sixteen `getrandom` system calls).
        let key = Data(MaskKeys.bytes(16)).base64EncodedString()
        var requestHeaders = headers
        requestHeaders.replaceOrAdd(name: "Host", value: target.hostHeader)
        requestHeaders.replaceOrAdd(name: "Upgrade", value: "websocket")
        requestHeaders.replaceOrAdd(name: "Connection", value: "Upgrade")
        requestHeaders.replaceOrAdd(name: "Sec-WebSocket-Key", value: key)
        requestHeaders.replaceOrAdd(name: "Sec-WebSocket-Version", value: "13")
        if settings.backendDeflate {
            requestHeaders.replaceOrAdd(name: "Sec-WebSocket-Extensions", value: PerMessageDeflate.backendOffer)
        }
        guard let request = HTTPHead.request(pathAndQuery: target.pathAndQuery, headers: requestHeaders) else {
            return eventLoop.makeFailedFuture(Failure.unsendable)
        }
        let tls: NIOSSLContext?
        if target.secure {
            switch tlsContexts.context(caFile: target.caFile) {
            case .success(let context): tls = context
            case .failure(let failure): return eventLoop.makeFailedFuture(failure)
            }
        } else {
            tls = nil
        }
        // Made only now that nothing can return early: a promise left uncompleted is a leak.
        let outcome = HandshakeOutcome(eventLoop.makePromise(of: HTTPResponseHead.self))
        let timeout = TimeAmount.milliseconds(Int64(seconds * 1000))

        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)  // TCP_NODELAY: ClientBootstrap's default
            .channelInitializer { channel in
                do {
                    try channel.syncOptions?.setOption(.writeBufferWaterMark, value: settings.writeBufferWaterMark)
                    try ReceiveBuffers.use(on: channel)
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        try sync.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: target.host.first?.isNumber == true ? nil : target.host)
                        )
                    }
                    try sync.addHandler(BackendHandshakeHandler(request: request, outcome: outcome))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let connect = target.address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: target.host, port: target.port)

        let deadline = eventLoop.scheduleTask(in: timeout) { outcome.complete(.failure(Failure.timeout)) }
        connect.whenFailure { error in
            if case ChannelError.connectTimeout = error {
                outcome.complete(.failure(Failure.timeout))
            } else {
                outcome.complete(.failure(Failure.unreachable("\(error)")))
            }
        }
        return connect.and(outcome.futureResult).flatMapThrowing { channel, head -> (RelayHandler, String?) in
            deadline.cancel()
            guard head.status == .switchingProtocols else {
                channel.close(promise: nil)
                throw Failure.rejected(status: head.status.code, reason: head.status.reasonPhrase)
            }
            guard head.headers.first(name: "Sec-WebSocket-Accept") == acceptValue(for: key) else {
                channel.close(promise: nil)
                throw Failure.protocolViolation("wrong Sec-WebSocket-Accept")
            }
            let chosen = head.headers.first(name: "Sec-WebSocket-Protocol")
            if let chosen, !offeredProtocols.contains(chosen) {
                channel.close(promise: nil)
                throw Failure.protocolViolation("subprotocol '\(chosen)' was not offered")
            }
            let deflate = try PerMessageDeflate.accepted(
                response: head.headers[canonicalForm: "Sec-WebSocket-Extensions"].map(String.init),
                offered: settings.backendDeflate
            )
            .mapError { failure -> Failure in
                channel.close(promise: nil)
                return failure
            }.get()
            let sync = channel.pipeline.syncOperations
            let relay = RelayHandler(side: .backend, connection: connection)
            // Known to the connection at once: what the backend does wrong before the link is acted on.
            connection.backend = relay
            try RelayPipeline.switchToWebSocket(
                channel,
                relay: relay,
                httpDecoder: try sync.handler(type: BackendHandshakeHandler.self),
                replacing: [],
                deflate: deflate,
                maxMessageBytes: maxFrameBytes
            )
            _ = channel.setOption(.autoRead, value: false)
            return (relay, chosen)
        }.flatMapErrorThrowing { error in
            deadline.cancel()
            connect.whenSuccess { $0.close(promise: nil) }
            if case ChannelError.connectTimeout = error { throw Failure.timeout }
            if error is Failure { throw error }
            throw Failure.unreachable("\(error)")
        }
    }
}
