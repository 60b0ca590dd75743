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

/// Stage 6: dial the API's backend and complete its WebSocket handshake before the client gets
/// its 101, so that a backend that is down, slow or refusing becomes a real HTTP answer (502/504)
/// and the backend's chosen subprotocol can be returned to the client.
enum Upstream {
    enum Failure: Error {
        case timeout
        case unreachable(String)
        case rejected(status: UInt, reason: String)
        case protocolViolation(String)

        /// The backend could not be reached at all (as opposed to answering its handshake wrongly):
        /// what counts towards suspending the endpoint.
        var isConnectFailure: Bool {
            switch self {
            case .timeout, .unreachable: true
            case .rejected, .protocolViolation: false
            }
        }

        var refusal: Refusal {
            switch self {
            case .timeout:
                Refusal(status: .gatewayTimeout, code: "backend_timeout", message: "The backend did not complete the WebSocket handshake in time")
            case .unreachable(let why):
                Refusal(status: .badGateway, code: "backend_unreachable", message: "The backend could not be reached: \(why)")
            case .rejected(let status, let reason):
                Refusal(status: .badGateway, code: "backend_rejected", message: "The backend refused the WebSocket handshake with \(status) \(reason)")
            case .protocolViolation(let why):
                Refusal(status: .badGateway, code: "backend_protocol_error", message: "The backend's handshake was invalid: \(why)")
            }
        }
    }

    /// TLS contexts for wss backends: one verifying against the system's roots, one per API CA file
    /// (`endpointConfig.ca_file`), made on first use and again when the file changes.
    static let tlsContexts = BackendTLSContexts()

    struct Target {
        let secure: Bool
        /// The CA bundle the backend's certificate must chain to (nil: the system's roots).
        var caFile: String? = nil
        let host: String
        let port: Int
        let pathAndQuery: String
        let hostHeader: String
    }

    /// An endpoint URL taken apart once, when a snapshot is built, not on every handshake.
    struct Endpoint: Sendable {
        let secure: Bool
        let host: String
        let port: Int
        /// The URL's path without a trailing slash.
        let path: String
        let query: String?
        let hostHeader: String

        static func parse(_ endpoint: String) -> Result<Endpoint, Failure> {
            guard let url = URLComponents(string: endpoint), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
                return .failure(.unreachable("the endpoint '\(endpoint)' is not a URL"))
            }
            let secure = scheme == "wss"
            let defaultPort = secure ? 443 : 80
            let port = url.port ?? defaultPort
            var path = url.percentEncodedPath
            if path.hasSuffix("/") { path.removeLast() }
            return .success(Endpoint(secure: secure, host: host, port: port, path: path, query: url.percentEncodedQuery,
                                     hostHeader: port == defaultPort ? host : "\(host):\(port)"))
        }

        /// This endpoint + the remaining path + the client's query (without `access_token`).
        func target(rest: String, clientQuery: String?) -> Target {
            let path = path + rest
            let query = [self.query, clientQuery.map(withoutAccessToken)].compactMap { $0 }.filter { !$0.isEmpty }
            return Target(secure: secure, host: host, port: port,
                          pathAndQuery: (path.isEmpty ? "/" : path) + (query.isEmpty ? "" : "?" + query.joined(separator: "&")),
                          hostHeader: hostHeader)
        }
    }

    /// The query without any `access_token` parameter, other parameters byte for byte as sent.
    static func withoutAccessToken(_ query: String) -> String {
        query.split(separator: "&", omittingEmptySubsequences: false).filter { QueryString.name(of: $0) != "access_token" }
            .joined(separator: "&")
    }

    static func acceptValue(for key: String) -> String {
        Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }

    /// Connects on `eventLoop` (the client's, so the relay pair shares one loop) and returns the
    /// backend's relay handler, reading paused, with the subprotocol the backend chose.
    static func connect(
        to target: Target, headers: HTTPHeaders, offeredProtocols: [String], on eventLoop: any EventLoop,
        settings: GatewaySettings, timeout seconds: TimeInterval, maxFrameBytes: Int, connection: RelayedConnection
    ) -> EventLoopFuture<(RelayHandler, String?)> {
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var requestHeaders = headers
        requestHeaders.replaceOrAdd(name: "Host", value: target.hostHeader)
        requestHeaders.replaceOrAdd(name: "Upgrade", value: "websocket")
        requestHeaders.replaceOrAdd(name: "Connection", value: "Upgrade")
        requestHeaders.replaceOrAdd(name: "Sec-WebSocket-Key", value: key)
        requestHeaders.replaceOrAdd(name: "Sec-WebSocket-Version", value: "13")
        if settings.backendDeflate {
            requestHeaders.replaceOrAdd(name: "Sec-WebSocket-Extensions", value: PerMessageDeflate.backendOffer)
        }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.pathAndQuery, headers: requestHeaders)
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

        let connect = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: settings.connectionBufferBytes / 2, high: settings.connectionBufferBytes))
            .channelInitializer { channel in
                do {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        try sync.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: target.host.first?.isNumber == true ? nil : target.host))
                    }
                    try sync.addHandler(HTTPRequestEncoder())
                    try sync.addHandler(NIOHTTPRequestHeadersValidator())
                    try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)))
                    try sync.addHandler(BackendHandshakeHandler(head: head, outcome: outcome))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: target.host, port: target.port)

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
            let deflate = try PerMessageDeflate.accepted(response: head.headers[canonicalForm: "Sec-WebSocket-Extensions"].map(String.init),
                                                         offered: settings.backendDeflate)
                .mapError { failure -> Failure in
                    channel.close(promise: nil)
                    return failure
                }.get()
            // The HTTP handlers give way to the frame codec; the decoder goes last, handing any
            // bytes after the 101 (frames the backend sent at once) to the frame decoder.
            let sync = channel.pipeline.syncOperations
            let relay = RelayHandler(side: .backend, connection: connection)
            let decoder = try sync.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)
            try sync.addHandler(relay)
            if let deflate {
                try sync.addHandler(PerMessageDeflateHandler(parameters: deflate, maxFrameBytes: maxFrameBytes), position: .before(relay))
            }
            sync.removeHandler(try sync.handler(type: BackendHandshakeHandler.self), promise: nil)
            sync.removeHandler(try sync.handler(type: NIOHTTPRequestHeadersValidator.self), promise: nil)
            sync.removeHandler(try sync.handler(type: HTTPRequestEncoder.self), promise: nil)
            let frameLimit = deflate == nil ? maxFrameBytes : PerMessageDeflate.maxFrameBytes(forMessageLimit: maxFrameBytes)
            try sync.addHandlers([ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: max(125, frameLimit))),
                                  FrameCheckHandler(sender: .server, compressionNegotiated: deflate != nil), WebSocketFrameEncoder()],
                                 position: .after(decoder))
            let decoderLeft = channel.eventLoop.makePromise(of: Void.self)
            decoderLeft.futureResult.assumeIsolated().whenSuccess { relay.decoderLeft() }
            sync.removeHandler(decoder, promise: decoderLeft)
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
        outcome.complete(.failure(Upstream.Failure.unreachable("the backend closed the connection during the handshake")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        outcome.complete(.failure(Upstream.Failure.unreachable("\(error)")))
        context.close(promise: nil)
    }
}

/// Client TLS contexts for wss backends, shared by every connection. A context per CA file is
/// remade when the file's modification time changes, so a rotated bundle takes effect without a
/// restart; a file that cannot be read makes the handshake fail with 502, naming the file.
final class BackendTLSContexts: Sendable {
    private struct Entry {
        let modified: Date?
        let context: NIOSSLContext
    }

    private let system: Result<NIOSSLContext, Upstream.Failure> = Result {
        try NIOSSLContext(configuration: .makeClientConfiguration())
    }.mapError { .unreachable("TLS is unavailable: \($0)") }
    private let byFile = NIOLockedValueBox<[String: Entry]>([:])

    func context(caFile: String?) -> Result<NIOSSLContext, Upstream.Failure> {
        guard let caFile else { return system }
        let modified = (try? FileManager.default.attributesOfItem(atPath: caFile))?[.modificationDate] as? Date
        if let entry = byFile.withLockedValue({ $0[caFile] }), entry.modified == modified {
            return .success(entry.context)
        }
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            let context = try NIOSSLContext(configuration: configuration)
            byFile.withLockedValue { $0[caFile] = Entry(modified: modified, context: context) }
            return .success(context)
        } catch {
            return .failure(.unreachable("the API's CA file '\(caFile)' cannot be used: \(error)"))
        }
    }
}
