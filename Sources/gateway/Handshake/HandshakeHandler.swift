import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import PorticoCore
import WebSocketWire

/// The handshake pipeline, one straight line: a complete, well-formed request in time (400, 408,
/// 431; 503 when too many are pending) → the stages (`HandshakeStages`: route, origin,
/// credentials, token, access, endpoint health, admission) → backend (502/504) → 101 and the
/// relay. Every refusal is answered as an HTTP response with a JSON body `{code, message}`
/// (`Refusal.response`); the 101 and refusals are written as bytes (`HTTPHead.response`), so that
/// only NIO's request decoder comes before this handler. Nothing here queries PostgreSQL.
final class HandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    let gateway: Gateway
    let secure: Bool
    let requestDecoder: ByteToMessageHandler<HTTPRequestDecoder>
    private var head: HTTPRequestHead?
    private var handled = false
    private var span: HandshakeSpan?
    /// Whether this connection holds one of `PendingHandshakes`' slots, and the deadline for its request.
    private var holdsSlot = false
    private var deadline: Scheduled<Void>?

    init(
        gateway: Gateway,
        secure: Bool,
        requestDecoder: ByteToMessageHandler<HTTPRequestDecoder>
    ) {
        self.gateway = gateway
        self.secure = secure
        self.requestDecoder = requestDecoder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        holdsSlot = gateway.pending.enter()
        guard holdsSlot else { return }
        let seconds = gateway.settings.handshakeTimeout
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(Int64(seconds))) { [self] in
            guard !handled else { return }
            handled = true
            refuse(.timedOut(after: seconds), record: record(context: context), context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if !holdsSlot && !handled {
            handled = true
            refuse(.tooManyHandshakes, record: record(context: context), context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        requestComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        requestComplete()
        context.fireChannelInactive()
    }

    /// The request is in (or never will be): the slot and the deadline go.
    private func requestComplete() {
        deadline?.cancel()
        deadline = nil
        if holdsSlot {
            holdsSlot = false
            gateway.pending.leave()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !handled else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            handled = true
            refuse(.unexpectedBody, record: record(context: context), context: context)
        case .end:
            guard let head else { return }
            handled = true
            requestComplete()
            _ = context.channel.setOption(.autoRead, value: false)
            handle(head, context: context)
        }
    }

    /// A request the HTTP parser cannot read is answered (400, or 431 for too many header bytes),
    /// then closed; any other error (TLS, a reset) just closes.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Once answered (or on its way to the backend), later errors — the decoder in its error state
        // reports every further read — change nothing; the refusal's close or the handshake goes on.
        guard !handled else { return }
        guard let parse = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        handled = true
        refuse(.malformed(parse, maxHeaderBytes: gateway.settings.maxHeaderBytes), record: record(context: context), context: context)
    }

    /// The log record of this handshake, with what is known of its request so far.
    private func record(context: ChannelHandlerContext) -> HandshakeRecord {
        HandshakeRecord(
            connectionID: ConnectionID.make(),
            path: head.map { LogRedaction.url($0.uri) } ?? "",
            clientAddress: context.channel.remoteAddress?.ipAddress ?? "unknown",
            userAgent: head?.headers.first(name: "User-Agent")
        )
    }

    private func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        var record = record(context: context)
        if gateway.logger.logLevel <= .trace {
            gateway.logger.trace(
                "handshake",
                metadata: [
                    "connection": "\(record.connectionID)", "uri": "\(record.path)",
                    "headers": "\(LogRedaction.headers(head.headers.map { ($0.name, $0.value) }).map { "\($0): \($1)" })",
                ]
            )
        }
        if gateway.settings.core.tracing { span = HandshakeSpan(head, record: record) }
        do throws(Refusal) {
            let admitted = try HandshakeStages.run(head, gateway: gateway, record: &record)
            let connection = RelayedConnection(
                record: record,
                caller: admitted.caller,
                apiID: admitted.api.id,
                policy: admitted.policy,
                slot: admitted.slot,
                routed: { if case .routes = admitted.destination { true } else { false } }(),
                eventLoop: context.eventLoop,
                gateway: gateway
            )
            let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map(String.init)
            let deflate =
                gateway.settings.clientDeflate
                ? PerMessageDeflate.accept(offers: head.headers[canonicalForm: "Sec-WebSocket-Extensions"].map(String.init)) : nil
            let target: Backend.Target
            let endpointKey: EndpointHealth.Endpoint
            switch admitted.destination {
            case .routes(let routes):
                connectRoutes(routes, admitted: admitted, head: head, offered: offered, deflate: deflate, connection: connection, context: context)
                return
            case .endpoint(let dialled, let endpoint):
                (target, endpointKey) = (dialled, endpoint)
            }
            let policy = admitted.policy
            let resilience = admitted.api.resilience
            let timeout = resilience.connectTimeoutMs.map { Double($0) / 1000 } ?? gateway.settings.backendConnectTimeout
            let endpoints = gateway.endpoints
            let metrics = gateway.metrics
            let forwarded = forwardedHeaders(head, caller: admitted.caller, connectionID: record.connectionID, context: context)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            Backend.connect(
                to: target,
                headers: forwarded,
                offeredProtocols: offered,
                on: context.eventLoop,
                settings: gateway.settings,
                timeout: timeout,
                maxFrameBytes: policy.maxMessageBytes,
                connection: connection
            )
            .whenComplete { result in
                let (handler, context) = loopBound.value
                switch result {
                case .success(let (backend, chosen)):
                    endpoints.succeeded(endpointKey)
                    handler.accept(head, backend: backend, subprotocol: chosen, deflate: deflate, connection: connection, context: context)
                case .failure(let error):
                    let failure = error as? Backend.Failure ?? .unreachable("\(error)")
                    let refusal = failure.refusal
                    if failure.isConnectFailure { endpoints.failed(endpointKey, resilience) }
                    metrics.backendConnectFailed(apiID: connection.apiID, reason: refusal.code)
                    connection.abandon()
                    handler.refuse(refusal, record: connection.record, context: context)
                }
            }
        } catch {
            refuse(error, record: record, context: context)
        }
    }

    /// An API with routes: its `$connect` integration decides (2xx: 101, with the subprotocol it
    /// chose; another status: that status refused, with its message; no answer in time: 504; none
    /// at all: 502); without a `$connect` route the connection is accepted. Its messages then go to
    /// a `RoutePeer`.
    private func connectRoutes(
        _ routes: APIRoutes,
        admitted: HandshakeStages.Admitted,
        head: HTTPRequestHead,
        offered: [String],
        deflate: (response: String, parameters: PerMessageDeflate.Parameters)?,
        connection: RelayedConnection,
        context: ChannelHandlerContext
    ) {
        let caller = admitted.caller
        var base = IntegrationContext(
            connectionID: connection.id,
            connectedAt: Int64(connection.record.startedAt.timeIntervalSince1970 * 1000),
            routeKey: APIRoutes.connect,
            messageID: TimeOrderedID.next(),
            requestID: TimeOrderedID.next(),
            sourceIP: connection.record.clientAddress,
            claims: [
                "sub": caller.subscriber, "applicationId": caller.applicationID, "applicationName": caller.applicationName,
                "clientId": caller.consumerKey, "keyType": caller.keyType.rawValue,
            ]
        )
        let peer = RoutePeer(
            connection: connection,
            routes: routes,
            caFile: admitted.api.backendCAFile,
            base: base,
            logger: gateway.logger,
            metrics: gateway.metrics
        )
        guard let route = routes.route(APIRoutes.connect) else {
            accept(head, backend: peer, subprotocol: nil, deflate: deflate, connection: connection, context: context)
            return
        }
        // What `$connect` may map: the handshake's query and headers, never its credentials.
        base.query = HandshakeStages.queryItems(HandshakeStages.split(head.uri).query).filter { $0.name != "access_token" }
        base.headers = head.headers.filter { $0.name.lowercased() != "authorization" }.map { ($0.name, $0.value) }
        let metrics = gateway.metrics
        let loopBound = NIOLoopBound((self, context, peer), eventLoop: context.eventLoop)
        Integrations.call(route.integration, event: .connect, context: base, caFile: admitted.api.backendCAFile, on: context.eventLoop)
            .whenComplete { result in
                let (handler, context, peer) = loopBound.value
                metrics.integrationCall(apiID: connection.apiID, route: APIRoutes.connect, outcome: Integrations.outcome(result))
                let refusal: Refusal
                switch result {
                case .success(let answer) where answer.succeeded:
                    let chosen = answer.headers.first(name: "Sec-WebSocket-Protocol").flatMap { Self.offeredProtocol($0, offered: offered) }
                    handler.accept(head, backend: peer, subprotocol: chosen, deflate: deflate, connection: connection, context: context)
                    return
                case .success(let answer):
                    let status = (400...599).contains(answer.status) ? HTTPResponseStatus(statusCode: answer.status) : .badGateway
                    refusal = Refusal(status: status, code: "connect_refused", message: "The API's $connect integration refused: \(answer.reason)")
                case .failure(Integrations.Failure.timeout):
                    refusal = Refusal(
                        status: .gatewayTimeout,
                        code: "integration_timeout",
                        message: "The API's $connect integration did not answer in time"
                    )
                case .failure:
                    refusal = Refusal(status: .badGateway, code: "integration_failed", message: "The API's $connect integration could not be called")
                }
                metrics.backendConnectFailed(apiID: connection.apiID, reason: refusal.code)
                connection.abandon()
                handler.refuse(refusal, record: connection.record, context: context)
            }
    }

    /// A subprotocol `$connect` chose, if it is one the client offered.
    static func offeredProtocol(_ chosen: String, offered: [String]) -> String? {
        let offers = offered.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        return offers.contains(chosen) ? chosen : nil
    }

    /// Answers 101, turns this channel into a WebSocket relay and links it with the backend's side.
    private func accept(
        _ head: HTTPRequestHead,
        backend: any RelayPeer,
        subprotocol: String?,
        deflate: (response: String, parameters: PerMessageDeflate.Parameters)?,
        connection: RelayedConnection,
        context: ChannelHandlerContext
    ) {
        span?.end(connection.record, refusal: nil)
        span = nil
        // An API's route table is the connection's backend side from here: a client gone before its
        // 101 still gets its `$disconnect` (its `$connect` succeeded).
        if let routes = backend as? RoutePeer { connection.backend = routes }
        guard context.channel.isActive, let key = head.headers.first(name: "Sec-WebSocket-Key") else {
            backend.closeNow()
            connection.abandon()
            return
        }
        var headers = HTTPHeaders([
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", Backend.acceptValue(for: key)), ("X-Portico-Connection-Id", connection.id),
        ])
        if let subprotocol { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
        if let deflate { headers.add(name: "Sec-WebSocket-Extensions", value: deflate.response) }
        let client = RelayHandler(side: .client, connection: connection)
        do {
            // Every value is the gateway's own or one the client sent and NIO's decoder accepted:
            // a 101 that cannot be written is a bug, closed like a switch that fails.
            guard let response = HTTPHead.response(.switchingProtocols, headers: headers, allocator: context.channel.allocator) else {
                throw UnwritableHead()
            }
            context.writeAndFlush(wrapOutboundOut(response), promise: nil)
            gateway.metrics.handshake(refusal: nil, startedAt: connection.record.startedUptime)
            connection.client = client
            try RelayPipeline.switchToWebSocket(
                context.channel,
                relay: client,
                httpDecoder: requestDecoder,
                replacing: [self],
                deflate: deflate?.parameters,
                maxMessageBytes: connection.policy.maxMessageBytes
            )
        } catch {
            gateway.logger.error("cannot switch the connection to WebSocket", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            backend.closeNow()
            connection.abandon()
            return
        }
        connection.start(
            closeOnExpiry: gateway.settings.closeOnTokenExpiry,
            leeway: gateway.settings.tokenLeeway,
            pingInterval: gateway.settings.pingInterval
        )
        if let backend = backend as? RelayHandler {
            RelayHandler.link(client: client, backend: backend)
        } else if let routes = backend as? RoutePeer {
            RelayHandler.link(client: client, routes: routes)
        }
    }

    /// Writes the refusal as an HTTP response and closes the connection; the refusal is counted,
    /// logged, and charged to the API's usage when the route was found.
    private func refuse(_ refusal: Refusal, record: HandshakeRecord, context: ChannelHandlerContext) {
        gateway.metrics.handshake(refusal: refusal, startedAt: record.startedUptime)
        span?.end(record, refusal: refusal)
        span = nil
        gateway.log.refused(record, refusal)
        gateway.usage.refused(record, refusal)
        requestComplete()
        let (head, body) = refusal.response(allocator: context.channel.allocator)
        // `Refusal.response` makes every header value writable; were one not, the client is closed.
        guard let response = HTTPHead.response(head.status, headers: head.headers, body: body, allocator: context.channel.allocator) else {
            context.close(promise: nil)
            return
        }
        // Half-close first: the client reads the answer before the connection goes (a full close with
        // its unread request bytes pending would reset the connection and could lose the answer).
        context.writeAndFlush(wrapOutboundOut(response)).assumeIsolated().whenComplete { _ in
            let halfClosed = context.eventLoop.makePromise(of: Void.self)
            halfClosed.futureResult.assumeIsolated().whenComplete { result in
                // Read again, so the client's own close ends the connection at once.
                if case .failure = result { context.channel.close(promise: nil) } else { _ = context.channel.setOption(.autoRead, value: true) }
            }
            context.close(mode: .output, promise: halfClosed)
        }
        // A peer that does not read the answer, does not close, or never finishes TLS is not waited for.
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    /// The client's headers for the backend: hop-by-hop, handshake and credential headers removed,
    /// any client-sent `X-Portico-*` dropped, forwarding and identity headers added.
    private static let notForwarded: Set<String> = [
        "host", "connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
        "sec-websocket-accept", "authorization", "content-length", "transfer-encoding", "keep-alive", "te", "trailer",
        "proxy-authorization", "proxy-connection", "x-forwarded-proto", "x-forwarded-host",
    ]

    private func forwardedHeaders(_ head: HTTPRequestHead, caller: Caller, connectionID: String, context: ChannelHandlerContext) -> HTTPHeaders {
        var headers = HTTPHeaders()
        var forwardedFor: String?
        for (name, value) in head.headers {
            let lower = name.lowercased()
            if lower == "x-forwarded-for" {
                forwardedFor = forwardedFor.map { "\($0), \(value)" } ?? value
                continue
            }
            if Self.notForwarded.contains(lower) || lower.hasPrefix("x-portico-") { continue }
            headers.add(name: name, value: value)
        }
        let clientAddress = context.channel.remoteAddress?.ipAddress ?? "unknown"
        headers.add(name: "X-Forwarded-For", value: forwardedFor.map { "\($0), \(clientAddress)" } ?? clientAddress)
        headers.add(name: "X-Forwarded-Proto", value: secure ? "wss" : "ws")
        if let host = head.headers.first(name: "Host") { headers.add(name: "X-Forwarded-Host", value: host) }
        headers.add(name: "X-Portico-Connection-Id", value: connectionID)
        headers.add(name: "X-Portico-Application-Id", value: caller.applicationID)
        headers.add(name: "X-Portico-Application-Name", value: caller.applicationName)
        headers.add(name: "X-Portico-Subscriber", value: caller.subscriber)
        headers.add(name: "X-Portico-Key-Type", value: caller.keyType.rawValue)
        span?.inject(into: &headers)
        return headers
    }
}

/// A response head with a byte that a head cannot carry (`HTTPHead.response` refused it).
private struct UnwritableHead: Error {}
