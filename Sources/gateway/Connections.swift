import Atomics
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PorticoCore

/// One proxied connection: who is on it, which API it reaches, what it may do, and how the gateway
/// closes it. Its mutable state lives on its event loop (both channels share one); `close` and
/// `apply` may be called from anywhere and hop there.
final class RelayedConnection: @unchecked Sendable {
    let caller: Caller
    let apiID: String
    let record: HandshakeRecord
    let eventLoop: any EventLoop
    private let metrics: GatewayMetrics
    private let apiMetrics: GatewayMetrics.APICounters
    private let registry: Connections
    private let limiter: RateLimiter
    private let counts: ConnectionCounts
    private let usageRecorder: UsageRecorder
    private let log: ConnectionLog
    /// Usage counted since it was last handed over, the minute it belongs to, and the whole
    /// connection's (for its log line).
    private var usage = UsageCounts()
    private var usageMinute: Int64 = 0
    private var totals = UsageCounts()
    private var minuteEnd: Scheduled<Void>?
    private(set) var end: ConnectionEnd?
    private var started = false
    /// Set when a message is relayed, cleared when the live-connection list records the activity.
    let relayedSinceReport = ManagedAtomic(false)
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

    var id: String { record.connectionID }

    /// How long a close handshake may take before the gateway drops both sockets.
    static let closeGrace: TimeAmount = .seconds(5)

    init(record: HandshakeRecord, caller: Caller, apiID: String, policy: ConnectionPolicy, eventLoop: any EventLoop, gateway: Gateway) {
        self.record = record
        self.caller = caller
        self.apiID = apiID
        self.policy = policy
        self.eventLoop = eventLoop
        metrics = gateway.metrics
        apiMetrics = gateway.metrics.api(apiID)
        registry = gateway.connections
        limiter = gateway.limiter
        counts = gateway.counts
        usageRecorder = gateway.usage
        log = gateway.log
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
        started = true
        registry.add(self)
        apiMetrics.active.increment()
        openedAt = .now()
        lastDataAt = openedAt
        startMinute()
        usage.connections = 1
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
        apiMetrics.rateLimited(policy.excessAction)
        usage.count(.throttled)
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
        ended(code.rawValue, by: .gateway, reason: reason)
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
            apiMetrics.active.decrement()
            finish()
        }
    }

    /// Gives back the connection's slot and buckets and stops its timers, once; a connection that
    /// was relaying hands over its usage and writes its log line.
    private func finish() {
        guard !finished else { return }
        finished = true
        for task in [expiry, idleCheck, lifetimeEnd, minuteEnd] { task?.cancel() }
        keepAlive?.cancel()
        releaseBuckets()
        if let slot { counts.release(subscriptionID: slot) }
        guard started else { return }
        if let end {
            metrics.closed(end)
            if let error = end.usageError { usage.count(error) }
        }
        if let (key, counts) = takeUsage() { usageRecorder.add(key, counts) }
        log.ended(record, usage: totals, end: end)
    }

    /// The first close decides how the connection ended; later ones (the answer, the other side) do not.
    /// `code` is nil when none was on the wire: an empty close frame, or a side that `vanished`.
    func ended(_ code: UInt16?, by initiator: ConnectionEnd.Initiator, reason: String, vanished: Bool = false) {
        guard end == nil else { return }
        end = ConnectionEnd(code: code, initiator: initiator, reason: reason, vanished: vanished)
    }

    /// A data frame relayed from `side`: counted in the metrics and the usage (a message when it
    /// starts one), and marked as activity for the live-connection list.
    func relayed(from side: RelayHandler.Side, bytes: Int, startsMessage: Bool) {
        let direction = side == .client ? apiMetrics.inbound : apiMetrics.outbound
        if startsMessage { direction.messages.increment() }
        direction.bytes.increment(by: bytes)
        usage.relayed(fromClient: side == .client, bytes: bytes, startsMessage: startsMessage)
        if !relayedSinceReport.load(ordering: .relaxed) { relayedSinceReport.store(true, ordering: .relaxed) }
    }

    /// The usage counted since the last hand-over, under the minute it belongs to.
    func takeUsage() -> (UsageKey, UsageCounts)? {
        guard !usage.isEmpty else { return nil }
        defer { usage = UsageCounts() }
        totals.add(usage)
        return (UsageKey(apiID: apiID, applicationID: caller.applicationID, minute: usageMinute), usage)
    }

    /// At each minute's end (UTC), the minute's usage goes to the recorder and counting moves on.
    private func rollMinute() {
        if let (key, counts) = takeUsage() { usageRecorder.add(key, counts) }
        startMinute()
    }

    private func startMinute() {
        let now = Date().timeIntervalSince1970
        usageMinute = Int64((now / 60).rounded(.down))
        let untilNext = Double(usageMinute + 1) * 60 - now
        minuteEnd = eventLoop.scheduleTask(in: .milliseconds(Int64(untilNext * 1000) + 1)) { [self] in rollMinute() }
    }

    /// What the live-connection list shows of this connection (the store records the reporting node
    /// and starts `lastActiveAt` at `connectedAt`).
    var live: LiveConnection {
        LiveConnection(id: id, apiID: apiID, applicationID: caller.applicationID, node: "", connectedAt: record.startedAt,
                       lastActiveAt: record.startedAt, clientAddress: record.clientAddress, userAgent: record.userAgent)
    }
}

/// The registry of live connections, to act on every change: a revoked token, a withdrawn
/// subscription, a blocked API. Each snapshot swap re-runs the handshake's access decision for
/// every connection.
final class Connections: Sendable {
    private struct State {
        var live: [String: RelayedConnection] = [:]
        /// Opened and closed since the live-connection list was last reported.
        var opened: [String: RelayedConnection] = [:]
        var closed: Set<String> = []
    }

    private let state = NIOLockedValueBox(State())

    func add(_ connection: RelayedConnection) {
        state.withLockedValue {
            $0.live[connection.id] = connection
            $0.opened[connection.id] = connection
        }
    }

    func remove(_ connection: RelayedConnection) {
        state.withLockedValue {
            $0.live.removeValue(forKey: connection.id)
            if $0.opened.removeValue(forKey: connection.id) == nil { $0.closed.insert(connection.id) }
        }
    }

    var count: Int { state.withLockedValue { $0.live.count } }

    var all: [RelayedConnection] { state.withLockedValue { Array($0.live.values) } }

    /// Connections opened or closed since the live-connection list was last reported.
    var hasLiveChanges: Bool {
        state.withLockedValue { !$0.opened.isEmpty || !$0.closed.isEmpty }
    }

    /// What changed for the live-connection list since the last call: opened, closed, and, with
    /// `withActivity`, active connections (those that relayed a message since).
    func takeLiveChanges(withActivity: Bool) -> ClusterStateStore.LiveChanges {
        let (opened, closed, live) = state.withLockedValue { state in
            defer {
                state.opened.removeAll()
                state.closed.removeAll()
            }
            return (Array(state.opened.values), state.closed, withActivity ? Array(state.live.values) : [])
        }
        var changes = ClusterStateStore.LiveChanges()
        changes.opened = opened.map(\.live)
        changes.closed = Array(closed)
        changes.active = live.filter { $0.relayedSinceReport.exchange(false, ordering: .relaxed) }.map(\.id)
        return changes
    }

    /// A report that could not be written: its changes come back, to go with the next.
    func restore(_ changes: ClusterStateStore.LiveChanges) {
        state.withLockedValue { state in
            for connection in changes.opened {
                if let open = state.live[connection.id] { state.opened[connection.id] = open }
            }
            state.closed.formUnion(changes.closed)
            for id in changes.active { state.live[id]?.relayedSinceReport.store(true, ordering: .relaxed) }
        }
    }

    /// Every live connection's usage so far, taken on its event loop (all loops at once).
    func takeUsage() async -> [(UsageKey, UsageCounts)] {
        let pending = all.map { connection in connection.eventLoop.submit { connection.takeUsage() } }
        var taken: [(UsageKey, UsageCounts)] = []
        for future in pending {
            if let usage = try? await future.get() { taken.append(usage) }
        }
        return taken
    }

    /// Closes the connections `table` no longer allows: 4002 when access was withdrawn (the
    /// application or its keys deleted — which also revokes its tokens —, the subscription deleted
    /// or blocked, the API no longer served to this caller), 4001 when the token was revoked. The
    /// others get the policy `table` resolves for them: an edited plan or API limit applies live.
    func enforce(_ table: RouteTable, settings: GatewaySettings) {
        for connection in all {
            let caller = connection.caller
            let standing = table.standing(ofToken: caller.jti, consumerKey: caller.consumerKey)
            guard standing.key?.applicationID == caller.applicationID else {
                connection.close(.forbidden, reason: "application or keys deleted")
                continue
            }
            if standing.revoked {
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
