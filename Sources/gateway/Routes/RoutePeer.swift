import Foundation
import Logging
import NIOCore
import NIOWebSocket
import PorticoCore

/// The "backend side" of a connection to an API with routes: it takes the client's messages from
/// the client's `RelayHandler` (after the plan's size and rate checks, which run there as for a
/// proxied API), selects each one's route, calls its integration, and writes a two-way route's
/// answer to the client. It answers the close handshake as a backend would, and after the
/// connection ends calls `$disconnect` once.
///
/// Order and backpressure: one integration call at a time per connection, in the order the
/// messages came; up to `maxQueued` complete messages wait behind it, and beyond that the client's
/// handler stops reading that client (TCP backpressure) until the queue shrinks. A client that
/// does not read its answers gets no new call until it does. Other connections are not held up:
/// each has its own queue, and calls from all connections share AsyncHTTPClient's pool.
/// Everything here runs on the connection's event loop.
final class RoutePeer: RelayPeer {
    let connection: RelayedConnection
    /// The API's route table, replaced when a snapshot changes it (`RelayedConnection.apply`).
    var routes: APIRoutes
    let caFile: String?
    /// What every call's context starts from: the connection, its caller, its handshake.
    let base: IntegrationContext
    let logger: Logger
    let metrics: GatewayMetrics
    private var assembling: ByteBuffer?
    private var assemblingBinary = false
    private var queue: [Integrations.Message] = []
    private var calling = false
    /// The connection has ended: what is queued is still delivered, then `$disconnect`.
    private var ended: ConnectionEnd??
    private var gone = false
    private var disconnected = false
    private var eventLoop: any EventLoop { connection.eventLoop }

    /// Complete messages that may wait for the integration before the client is read no more.
    static let maxQueued = 16

    init(connection: RelayedConnection, routes: APIRoutes, caFile: String?, base: IntegrationContext, logger: Logger, metrics: GatewayMetrics) {
        self.connection = connection
        self.logger = logger
        self.metrics = metrics
        self.routes = routes
        self.caFile = caFile
        self.base = base
    }

    // MARK: RelayPeer

    func relay(_ frame: WireFrame) {
        switch frame.opcode {
        case .ping:
            // A client's ping is answered here, as a backend would.
            connection.client?.relay(.own(.pong, frame.unmaskedPayload))
            connection.client?.flushRelayed()
        case .pong:
            return
        case .connectionClose:
            // The client's close, relayed to this side: answered with the same code, as an echoing backend.
            let closeFrame = WireFrame.own(.connectionClose, frame.unmaskedPayload)
            var payload = frame.unmaskedPayload
            let code = payload.readInteger(as: UInt16.self)
            let reason = payload.readString(length: payload.readableBytes) ?? ""
            eventLoop.assumeIsolated().execute { [self] in
                connection.run(connection.life.closeRead(from: .backend, code: code, reason: reason), relaying: closeFrame)
            }
        default:
            let starts = frame.opcode != .continuation
            if starts {
                assembling = frame.unmaskedPayload
                assemblingBinary = frame.opcode == .binary
            } else {
                var part = frame.unmaskedPayload
                assembling?.writeBuffer(&part)
            }
            if frame.fin, let message = assembling {
                assembling = nil
                queue.append(Integrations.Message(payload: message, binary: assemblingBinary))
                next()
            }
        }
    }

    func flushRelayed() {}

    var takesMore: Bool { queue.count < Self.maxQueued }

    /// The client reads again: calls waiting for that go on.
    func peerTakesMore() {
        next()
    }

    /// The gateway's close to this side (1001 when the gateway ends the connection or the client
    /// broke a rule): answered at once, as a backend would.
    func writeClose(_ code: GatewayCloseCode, reason: String, thenClose: Bool) {
        eventLoop.assumeIsolated().execute { [self] in
            if thenClose {
                closeNow()
            } else {
                connection.run(connection.life.closeRead(from: .backend, code: code.rawValue, reason: reason))
            }
        }
    }

    func closeNow() {
        guard !gone else { return }
        gone = true
        eventLoop.assumeIsolated().execute { [self] in connection.run(connection.life.gone(.backend)) }
    }

    func keepAlive() {}

    func connectionFinished(_ end: ConnectionEnd?) {
        ended = .some(end)
        if !calling && queue.isEmpty { disconnect() }
    }

    // MARK: Messages

    /// Starts the next queued message's call, when none is running.
    private func next() {
        guard !calling else { return }
        guard !queue.isEmpty else {
            if ended != nil { disconnect() }
            return
        }
        // A client that does not read its answers gets no new ones: the next call waits for
        // `peerTakesMore` (its channel writable again), and the queue then stops its reads.
        if ended == nil, connection.client?.context?.channel.isWritable == false { return }
        let message = queue.removeFirst()
        calling = true
        // A queue below its bound takes the client's reads again (they stop while it is full).
        if takesMore { connection.client?.peerTakesMore() }
        let text = message.binary ? nil : String(buffer: message.payload)
        var context = base
        context.messageID = TimeOrderedID.next()
        context.requestID = TimeOrderedID.next()
        context.body = text
        guard let (route, key) = routes.select(json: context.json) else {
            answer(failure: "Forbidden", requestID: context.requestID)
            done()
            return
        }
        context.routeKey = key
        Integrations.call(route.integration, event: .message, context: context, message: message, caFile: caFile, on: eventLoop)
            .assumeIsolated()
            .whenComplete { [self] result in
                metrics.integrationCall(apiID: connection.apiID, route: key, outcome: Integrations.outcome(result))
                if case .failure(let error) = result {
                    logger.notice(
                        "integration call failed",
                        metadata: ["connection": "\(base.connectionID)", "route": "\(key)", "error": "\(String(describing: error).prefix(300))"]
                    )
                }
                switch result {
                case .success(let answer) where answer.succeeded && answer.body.readableBytes > connection.policy.maxMessageBytes:
                    // An answer over the plan's message size is refused as a backend's message would be.
                    logger.info(
                        "integration answer over the message size limit",
                        metadata: ["connection": "\(base.connectionID)", "route": "\(key)"]
                    )
                    self.answer(failure: "Internal server error", requestID: context.requestID)
                case .success(let answer) where answer.succeeded:
                    if route.twoWay && answer.body.readableBytes > 0 { write(answer.body, binary: !answer.isText) }
                case .success, .failure:
                    // Whether the route answers or not: the client learns that its message failed.
                    self.answer(failure: "Internal server error", requestID: context.requestID)
                }
                done()
            }
    }

    /// The call is over: the next one starts in a task of its own (a MOCK answers at once, and a
    /// queue of them must not become a recursion).
    private func done() {
        calling = false
        eventLoop.assumeIsolated().execute { [self] in next() }
    }

    /// AWS's error message to the client: the route failed, or there is none.
    private func answer(failure message: String, requestID: String) {
        let body = #"{"message":"\#(message)","connectionId":"\#(base.connectionID)","requestId":"\#(requestID)"}"#
        write(ByteBuffer(string: body), binary: false)
    }

    private func write(_ payload: ByteBuffer, binary: Bool) {
        guard ended == nil else { return }
        connection.deliver(payload, binary: binary)
    }

    /// `$disconnect`, once, after the connection ended and what it sent was delivered.
    private func disconnect() {
        guard !disconnected, let end = ended else { return }
        disconnected = true
        guard let route = routes.route(APIRoutes.disconnect) else { return }
        var context = base
        context.routeKey = APIRoutes.disconnect
        context.messageID = TimeOrderedID.next()
        context.requestID = TimeOrderedID.next()
        let caFile = caFile
        let logger = logger
        let connectionID = context.connectionID
        let metrics = metrics
        let apiID = connection.apiID
        Integrations.call(
            route.integration,
            event: .disconnect,
            context: context,
            close: (end?.code, end?.reason ?? ""),
            caFile: caFile,
            on: eventLoop
        )
        .whenComplete { result in
            metrics.integrationCall(apiID: apiID, route: APIRoutes.disconnect, outcome: Integrations.outcome(result))
            switch result {
            case .success(let answer) where answer.succeeded: break
            case .success(let answer): logger.info("$disconnect integration answered \(answer.status)", metadata: ["connection": "\(connectionID)"])
            case .failure(let error): logger.info("$disconnect integration failed: \(error)", metadata: ["connection": "\(connectionID)"])
            }
        }
    }
}
