import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PorticoCore

/// One proxied connection: who is on it, which API it reaches, what it may do, and how the gateway
/// closes it. Its mutable state lives on its event loop (both channels share one); `close` and
/// `apply` may be called from anywhere and hop there.
final class RelayedConnection: @unchecked Sendable {
    let id: String
    let caller: Caller
    let apiID: String
    let eventLoop: any EventLoop
    let metrics: GatewayMetrics
    private let registry: Connections
    private let limiter: RateLimiter
    private let counts: ConnectionCounts
    var client: RelayHandler?
    var backend: RelayHandler?
    private(set) var policy: ConnectionPolicy
    private var buckets: [RateBucket] = []
    /// The subscription whose connection slot this connection holds (given back when it ends).
    private var slot: String?
    private(set) var isClosingByGateway = false
    private var closedSides = Set<RelayHandler.Side>()
    private var finished = false
    private var forceClose: Scheduled<Void>?
    private var expiry: Scheduled<Void>?
    private var idleCheck: Scheduled<Void>?
    private var lifetimeEnd: Scheduled<Void>?
    private var keepAlive: RepeatedTask?
    private var openedAt = NIODeadline.now()
    private var lastDataAt = NIODeadline.now()

    /// How long a close handshake may take before the gateway drops both sockets.
    static let closeGrace: TimeAmount = .seconds(5)

    init(id: String, caller: Caller, apiID: String, policy: ConnectionPolicy, eventLoop: any EventLoop, gateway: GatewayContext) {
        self.id = id
        self.caller = caller
        self.apiID = apiID
        self.policy = policy
        self.eventLoop = eventLoop
        metrics = gateway.metrics
        registry = gateway.connections
        limiter = gateway.limiter
        counts = gateway.counts
    }

    /// Takes a connection slot under the subscription's cap (429 when it is reached).
    func admit() throws(Refusal) {
        guard let subscription = policy.subscriptionID else { return }
        try counts.admit(subscriptionID: subscription, cap: policy.maxConnections)
        slot = subscription
    }

    /// Registers the connection, takes its rate buckets, arms its timers: the close at the token's
    /// expiry (4001, plus the leeway the handshake allowed, so that a token accepted is not closed
    /// at once), the idle timeout and lifetime (1001), and the keep-alive pings.
    func start(closeOnExpiry: Bool, leeway: TimeInterval, pingInterval: Int) {
        eventLoop.preconditionInEventLoop()
        registry.add(self)
        metrics.connectionOpened()
        openedAt = .now()
        lastDataAt = openedAt
        takeBuckets()
        armIdleAndLifetime()
        if closeOnExpiry {
            let delay = max(0, caller.expiresAt.timeIntervalSinceNow + leeway)
            expiry = eventLoop.scheduleTask(in: .milliseconds(Int64(delay * 1000))) { [self] in
                close(.invalidCredentials, reason: "access token expired")
            }
        }
        if pingInterval > 0 {
            keepAlive = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(Int64(pingInterval)), delay: .seconds(Int64(pingInterval))) {
                [self] _ in
                client?.keepAlive()
                backend?.keepAlive()
            }
        }
    }

    /// A handshake that failed after admission: gives back what it took.
    func abandon() {
        eventLoop.execute { [self] in finish() }
    }

    /// A new snapshot's policy for this connection (an edited plan or API): applies from the next message.
    func apply(_ newPolicy: ConnectionPolicy) {
        eventLoop.execute { [self] in
            guard !finished, newPolicy != policy else { return }
            let old = policy
            policy = newPolicy
            if old.buckets != newPolicy.buckets {
                releaseBuckets()
                takeBuckets()
            }
            if old.idleTimeout != newPolicy.idleTimeout || old.maxLifetime != newPolicy.maxLifetime {
                // Activity is only tracked while there is an idle timeout: one just set starts now.
                if old.idleTimeout == nil { lastDataAt = .now() }
                armIdleAndLifetime()
            }
        }
    }

    private func takeBuckets() {
        buckets = policy.buckets.map { limiter.acquire(key: $0.key, limit: $0.limit) }
    }

    private func releaseBuckets() {
        for bucket in buckets { limiter.release(bucket) }
        buckets = []
    }

    private func armIdleAndLifetime() {
        idleCheck?.cancel()
        lifetimeEnd?.cancel()
        if let idle = policy.idleTimeout {
            idleCheck = eventLoop.scheduleTask(deadline: lastDataAt + idle) { [self] in idleExpired() }
        }
        if let lifetime = policy.maxLifetime {
            lifetimeEnd = eventLoop.scheduleTask(deadline: openedAt + lifetime) { [self] in
                close(.goingAway, reason: "maximum connection lifetime reached")
            }
        }
    }

    private func idleExpired() {
        guard let idle = policy.idleTimeout else { return }
        let quietUntil = lastDataAt + idle
        if quietUntil <= .now() {
            close(.goingAway, reason: "idle timeout: no message either way for \(idle.nanoseconds / 1_000_000_000) s")
        } else {
            idleCheck = eventLoop.scheduleTask(deadline: quietUntil) { [self] in idleExpired() }
        }
    }

    /// A data frame from `side` is about to be relayed: it marks activity (for the idle timeout)
    /// and, when it starts a message that counts, takes the message's event. False: the message is
    /// over a rate limit — dropped, with a notice to the client, or closing the connection (4003).
    func admitsData(from side: RelayHandler.Side, startsMessage: Bool) -> Bool {
        let counted = startsMessage && !buckets.isEmpty && policy.counts(from: side)
        guard counted || policy.idleTimeout != nil else { return true }
        let now = NIODeadline.now()
        if policy.idleTimeout != nil { lastDataAt = now }
        guard counted, let retryAfter = takeEvent(at: now.uptimeNanoseconds) else { return true }
        metrics.rateLimited(action: policy.excessAction)
        switch policy.excessAction {
        case .close: close(.rateLimited, reason: "rate limit exceeded; retry in \(retryAfter) ms")
        case .drop: client?.notifyRateLimited(retryAfterMs: retryAfter)
        }
        return false
    }

    /// One event from every bucket, or none: nil when taken, else the milliseconds until it could be.
    private func takeEvent(at now: UInt64) -> Int? {
        for (index, bucket) in buckets.enumerated() {
            if let retryAfter = bucket.take(now: now) {
                for taken in buckets[..<index] { taken.giveBack() }
                return retryAfter
            }
        }
        return nil
    }

    /// The gateway ends the connection: `code` to the client, 1001 to the backend.
    func close(_ code: GatewayCloseCode, reason: String) {
        if eventLoop.inEventLoop {
            closeHere(code, reason: reason)
        } else {
            eventLoop.execute { [self] in closeHere(code, reason: reason) }
        }
    }

    private func closeHere(_ code: GatewayCloseCode, reason: String) {
        guard !isClosingByGateway, closedSides.count < 2 else { return }
        isClosingByGateway = true
        client?.sendClose(code: code, reason: reason, thenClose: false)
        backend?.sendClose(code: .goingAway, reason: code == .goingAway ? reason : "closed by the gateway", thenClose: false)
        closeEventually()
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
            client = nil
            backend = nil
            registry.remove(self)
            metrics.connectionClosed()
            finish()
        }
    }

    /// Gives back the connection's slot and buckets and stops its timers, once.
    private func finish() {
        guard !finished else { return }
        finished = true
        for task in [expiry, idleCheck, lifetimeEnd] { task?.cancel() }
        keepAlive?.cancel()
        releaseBuckets()
        if let slot { counts.release(subscriptionID: slot) }
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
    /// or blocked, the API no longer served to this caller), 4001 when the token was revoked. The
    /// others get the policy `table` resolves for them: an edited plan or API limit applies live.
    func enforce(_ table: RouteTable, settings: GatewaySettings) {
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
                connection.apply(ConnectionPolicy.resolve(caller, api, in: table, settings: settings))
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
