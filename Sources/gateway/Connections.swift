import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PorticoCore

/// One proxied connection: who is on it, which API it reaches, and how the gateway closes it.
/// Its mutable state lives on its event loop (both channels share one); `close` may be called from
/// anywhere and hops there.
final class RelayedConnection: @unchecked Sendable {
    let id: String
    let caller: Caller
    let apiID: String
    let eventLoop: any EventLoop
    let metrics: GatewayMetrics
    private let registry: Connections
    var client: RelayHandler?
    var backend: RelayHandler?
    private(set) var isClosingByGateway = false
    private var closedSides = Set<RelayHandler.Side>()
    private var forceClose: Scheduled<Void>?
    private var expiry: Scheduled<Void>?

    /// How long a close handshake may take before the gateway drops both sockets.
    static let closeGrace: TimeAmount = .seconds(5)

    init(id: String, caller: Caller, apiID: String, eventLoop: any EventLoop, metrics: GatewayMetrics, registry: Connections) {
        self.id = id
        self.caller = caller
        self.apiID = apiID
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.registry = registry
    }

    /// Registers the connection and, when asked, arms the close at the token's expiry (4001) —
    /// plus the leeway the handshake allowed, so that a token accepted is not closed at once.
    func start(closeOnExpiry: Bool, leeway: TimeInterval) {
        eventLoop.preconditionInEventLoop()
        registry.add(self)
        metrics.connectionOpened()
        if closeOnExpiry {
            let delay = max(0, caller.expiresAt.timeIntervalSinceNow + leeway)
            expiry = eventLoop.scheduleTask(in: .milliseconds(Int64(delay * 1000))) { [self] in
                close(.invalidCredentials, reason: "access token expired")
            }
        }
    }

    /// The gateway ends the connection: `code` to the client, 1001 to the backend.
    func close(_ code: GatewayCloseCode, reason: String) {
        eventLoop.execute { [self] in
            guard !isClosingByGateway, closedSides.count < 2 else { return }
            isClosingByGateway = true
            client?.sendClose(code: code, reason: reason, thenClose: false)
            backend?.sendClose(code: .goingAway, reason: "closed by the gateway", thenClose: false)
            closeEventually()
        }
    }

    /// Drops both sockets if the close handshake has not finished within the grace period.
    func closeEventually() {
        guard forceClose == nil else { return }
        forceClose = eventLoop.scheduleTask(in: Self.closeGrace) { [self] in
            client?.context?.close(promise: nil)
            backend?.context?.close(promise: nil)
        }
    }

    func sideClosed(_ side: RelayHandler.Side) {
        closedSides.insert(side)
        if closedSides.count == 2 {
            forceClose?.cancel()
            expiry?.cancel()
            client = nil
            backend = nil
            registry.remove(self)
            metrics.connectionClosed()
        }
    }

    func closeSent(_ code: UInt16, to side: RelayHandler.Side) {
        metrics.closeSent(code: code, to: side)
    }
}

/// The registry of live connections, to act on every change: a revoked token, a withdrawn
/// subscription, a blocked API. Each snapshot swap re-runs the handshake's access decision for
/// every connection.
final class Connections: Sendable {
    private let live = NIOLockedValueBox<[String: RelayedConnection]>([:])

    func add(_ connection: RelayedConnection) {
        live.withLockedValue { $0[connection.id] = connection }
    }

    func remove(_ connection: RelayedConnection) {
        _ = live.withLockedValue { $0.removeValue(forKey: connection.id) }
    }

    var count: Int { live.withLockedValue { $0.count } }

    var all: [RelayedConnection] { live.withLockedValue { Array($0.values) } }

    /// Closes the connections `table` no longer allows: 4002 when access was withdrawn (the
    /// application or its keys deleted — which also revokes its tokens —, the subscription deleted
    /// or blocked, the API no longer served to this caller), 4001 when the token was revoked.
    func enforce(_ table: RouteTable) {
        for connection in all {
            let caller = connection.caller
            guard table.keys[caller.consumerKey]?.applicationID == caller.applicationID,
                  table.applications.contains(caller.applicationID)
            else {
                connection.close(.forbidden, reason: "application or keys deleted")
                continue
            }
            if table.revokedTokens[caller.jti] != nil {
                connection.close(.invalidCredentials, reason: "access token revoked")
                continue
            }
            guard let api = table.api(id: connection.apiID) else {
                connection.close(.forbidden, reason: "API no longer served")
                continue
            }
            do {
                _ = try Access.check(caller, api, in: table)
            } catch {
                connection.close(.forbidden, reason: error.message)
            }
        }
    }

    /// Closes every connection with 1001 (shutdown).
    func closeAll() {
        for connection in all { connection.close(.goingAway, reason: "gateway shutting down") }
    }
}
