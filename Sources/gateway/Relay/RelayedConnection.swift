import Atomics
import Foundation
import NIOCore
import NIOWebSocket
import PorticoCore

/// One proxied connection: who is on it, which API it reaches, what it may do, and how the gateway
/// closes it. Its mutable state lives on its event loop (both channels share one); `close`, `push`
/// and `apply` may be called from anywhere and hop there.
final class RelayedConnection: @unchecked Sendable {
    let caller: Caller
    let apiID: String
    /// Whether the API's route table takes the messages (a `RoutePeer`), not a WebSocket backend.
    let routed: Bool
    let record: HandshakeRecord
    let eventLoop: any EventLoop
    private let metrics: GatewayMetrics
    private let apiMetrics: GatewayMetrics.APICounters
    private let registry: Connections
    private let limiter: RateLimiter
    private let counts: ConnectionCounts
    private let usageRecorder: UsageRecorder
    private let log: ConnectionLog
    /// What the connection used (handed to the recorder each minute and at its end).
    private var usage = ConnectionUsage(openedIn: 0)
    /// How the connection ends: the close handshake of both sides (`ConnectionLife`).
    var life = ConnectionLife()
    private var started = false
    /// Set when a message is relayed, cleared when the live-connection list records the activity.
    let relayedSinceReport = ManagedAtomic(false)
    var client: RelayHandler?
    /// The backend side: a `RelayHandler` on the backend's WebSocket channel, or an API's `RoutePeer`.
    var backend: (any RelayPeer)?
    private(set) var policy: ConnectionPolicy
    private var buckets: [RateBucket] = []
    /// The subscription whose connection slot this connection holds (given back when it ends).
    private let slot: String?
    /// When both sockets are dropped if the close handshake has not finished (the timers' sweep checks).
    private var closeDeadline: NIODeadline?
    private let timers: ConnectionTimers
    /// The deadlines the timers' sweep checks (`tick`).
    private var openedAt = NIODeadline.uptimeNanoseconds(0)
    private var lastDataAt = NIODeadline.uptimeNanoseconds(0)
    private var expiresAt: NIODeadline?
    private var pingEvery: TimeAmount?
    private var nextPingAt = NIODeadline.distantFuture
    /// When the connection last relayed a data frame (either way) or had a message pushed, to the
    /// timers' sweep (a second): `relayed` only sets a flag, the sweep reads the clock.
    private(set) var lastActiveAt: Date
    private var activeSinceTick = false

    var id: String { record.connectionID }

    /// How long a close handshake may take before the gateway drops both sockets.
    static let closeGrace: TimeAmount = .seconds(5)

    init(
        record: HandshakeRecord,
        caller: Caller,
        apiID: String,
        policy: ConnectionPolicy,
        slot: String?,
        routed: Bool = false,
        eventLoop: any EventLoop,
        gateway: Gateway
    ) {
        self.routed = routed
        self.record = record
        lastActiveAt = record.startedAt
        self.slot = slot
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
        timers = gateway.timers
    }

    /// Registers the connection, takes its rate buckets and joins the timers' sweep, which closes
    /// it at the token's expiry (4001, plus the leeway the handshake allowed, so that a token
    /// accepted is not closed at once), after the idle timeout or at its lifetime's end (1001), and
    /// sends the keep-alive pings.
    func start(closeOnExpiry: Bool, leeway: TimeInterval, pingInterval: Int) {
        eventLoop.preconditionInEventLoop()
        started = true
        registry.add(self)
        apiMetrics.active.increment()
        openedAt = eventLoop.now
        lastDataAt = openedAt
        usage = ConnectionUsage(openedIn: UsageKey.minute(of: Date()))
        takeBuckets()
        if closeOnExpiry {
            let delay = max(0, caller.expiresAt.timeIntervalSinceNow + leeway)
            expiresAt = openedAt + .milliseconds(Int64(delay * 1000))
        }
        if pingInterval > 0 {
            pingEvery = .seconds(Int64(pingInterval))
            nextPingAt = openedAt + .seconds(Int64(pingInterval))
        }
        timers.add(self)
    }

    /// The timers' sweep: whatever is due now. The usage minute rolls over, and the close grace
    /// runs out, even while closing.
    func tick(now: NIODeadline, minute: Int64) {
        guard !life.finished else { return }
        if activeSinceTick {
            activeSinceTick = false
            lastActiveAt = Date()
        }
        if let (minute, counts) = usage.roll(to: minute) { usageRecorder.add(usageKey(minute), counts) }
        if let closeDeadline, now >= closeDeadline {
            // The backend first: a client failed in order is then sent its own code as it goes.
            backend?.closeNow()
            client?.closeNow()
            return
        }
        guard !life.closingByGateway else { return }
        if let expiresAt, now >= expiresAt {
            close(.invalidCredentials, reason: "access token expired")
        } else if let lifetime = policy.maxLifetime, now >= openedAt + lifetime {
            close(.goingAway, reason: "maximum connection lifetime reached")
        } else if let idle = policy.idleTimeout, now >= lastDataAt + idle {
            close(.goingAway, reason: "idle timeout: no message either way for \(idle.nanoseconds / 1_000_000_000) s")
        } else if let pingEvery, now >= nextPingAt {
            nextPingAt = now + pingEvery
            client?.keepAlive()
            backend?.keepAlive()
        }
    }

    /// A handshake that failed after admission: gives back what it took.
    func abandon() {
        eventLoop.execute { [self] in run(life.abandon()) }
    }

    /// A new snapshot's policy for this connection (an edited plan or API): applies from the next message.
    func apply(_ newPolicy: ConnectionPolicy) {
        eventLoop.execute { [self] in
            guard !life.finished, newPolicy != policy else { return }
            let old = policy
            policy = newPolicy
            if old.buckets != newPolicy.buckets {
                releaseBuckets()
                takeBuckets()
            }
            // Activity is only tracked while there is an idle timeout: one just set starts now.
            if old.idleTimeout == nil && newPolicy.idleTimeout != nil { lastDataAt = eventLoop.now }
        }
    }

    /// A new snapshot's route table for a routed connection: from the next message on.
    func apply(_ routes: APIRoutes) {
        eventLoop.execute { [self] in
            guard let peer = backend as? RoutePeer, peer.routes != routes else { return }
            peer.routes = routes
        }
    }

    private func takeBuckets() {
        buckets = policy.buckets.map { limiter.acquire(key: $0.key, limit: $0.limit) }
    }

    private func releaseBuckets() {
        for bucket in buckets { limiter.release(bucket) }
        buckets = []
    }

    /// A data frame from `side` is about to be relayed: it marks activity (for the idle timeout)
    /// and, when it starts a message that counts, takes the message's event. Nil: admitted; else
    /// the message is over a rate limit, and the milliseconds until it would not be (`overRate`).
    func takeEvent(from side: RelaySide, startsMessage: Bool) -> Int? {
        let counted = startsMessage && !buckets.isEmpty && policy.counts(from: side)
        guard counted || policy.idleTimeout != nil else { return nil }
        if policy.idleTimeout != nil { lastDataAt = eventLoop.now }
        guard counted, let retryAfter = takeEvent(at: NIODeadline.now().uptimeNanoseconds) else { return nil }
        apiMetrics.rateLimited(policy.excessAction)
        usage.count(.throttled)
        return retryAfter
    }

    /// A message over a rate limit was dropped: the client is told so (4003 as a text frame), or,
    /// when the plan says `close`, the connection is closed with 4003.
    func overRate(retryAfterMs retryAfter: Int) {
        switch policy.excessAction {
        case .close: close(.rateLimited, reason: "rate limit exceeded; retry in \(retryAfter) ms")
        case .drop: client?.notifyRateLimited(retryAfterMs: retryAfter)
        }
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

    /// The gateway ends the connection: `code` to the client, 1001 to the backend. The one entry
    /// point for a close decided elsewhere (a timer, a live change, shutdown): callable from any
    /// thread, it hops to the connection's event loop.
    func close(_ code: GatewayCloseCode, reason: String) {
        if eventLoop.inEventLoop {
            run(life.gatewayCloses(code, reason: reason))
        } else {
            eventLoop.execute { [self] in run(life.gatewayCloses(code, reason: reason)) }
        }
    }

    /// Why a message pushed to the client was not taken.
    enum PushRefusal: Error, Equatable {
        /// The connection is closing or closed.
        case closed
        /// The client does not read fast enough: its buffer is full, or too many messages wait
        /// for the backend's half-written one.
        case busy
    }

    /// A message for the client from outside the relay (an API call, another gateway): the one entry
    /// point for it, callable from any thread, like `close`. It never cuts into a message the backend
    /// is half way through sending the client: it follows it. The future succeeds once the message
    /// is written or waiting behind that message; a waiting message is lost if the connection
    /// closes before the backend's message ends.
    func push(_ payload: ByteBuffer, binary: Bool) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            guard let client, !life.closingByGateway, client.context?.channel.isActive == true else { throw PushRefusal.closed }
            guard client.context?.channel.isWritable == true else { throw PushRefusal.busy }
            let bytes = payload.readableBytes
            switch client.send(.message(payload, binary: binary)) {
            case .now, .waits:
                // A pushed message is the API's: in the usage and metrics as one the backend sent.
                relayed(from: .backend, bytes: bytes, startsMessage: true)
                return
            case .full: throw life.client.writable ? PushRefusal.busy : PushRefusal.closed
            }
        }
    }

    /// An answer of the API's integrations for the client (on the event loop): written like a
    /// backend's message, never refused for a full buffer — the route peer does not start another
    /// call until the client has read (`RoutePeer`), which bounds what waits.
    func deliver(_ payload: ByteBuffer, binary: Bool) {
        eventLoop.preconditionInEventLoop()
        guard let client, !life.closingByGateway, life.client.writable else { return }
        let bytes = payload.readableBytes
        switch client.send(.message(payload, binary: binary)) {
        case .now, .waits: relayed(from: .backend, bytes: bytes, startsMessage: true)
        case .full: break
        }
    }

    /// What the connection management API says of the connection, read on its event loop.
    struct Description: Sendable {
        let id: String
        let apiID: String
        let connectedAt: Date
        let lastActiveAt: Date
        let sourceIP: String
        let userAgent: String?
        let applicationID: String
        let applicationName: String
        let keyType: KeyType
    }

    func describe() -> EventLoopFuture<Description> {
        eventLoop.submit { [self] in
            Description(
                id: id,
                apiID: apiID,
                connectedAt: record.startedAt,
                lastActiveAt: activeSinceTick ? Date() : lastActiveAt,
                sourceIP: record.clientAddress,
                userAgent: record.userAgent,
                applicationID: caller.applicationID,
                applicationName: caller.applicationName,
                keyType: caller.keyType
            )
        }
    }

    /// Executes what `life` decided; `frame` is the close frame just read, for `relayClose`.
    func run(_ actions: [ConnectionLife.Action], relaying frame: WireFrame? = nil) {
        for action in actions {
            switch action {
            case .sendClose(let side, let code, let reason, let thenClose):
                handler(side)?.writeClose(code, reason: reason, thenClose: thenClose)
                // Also when the frame is never written (a side that stopped reading): the grace bounds it.
                if thenClose { closeEventually() }
            case .relayClose(let side):
                if let frame { handler(side)?.relay(frame) }
            case .closeChannel(let side):
                handler(side)?.closeNow()
            case .armGrace:
                closeEventually()
            case .finish:
                finish()
            }
        }
    }

    private func handler(_ side: RelaySide) -> (any RelayPeer)? {
        side == .client ? client : backend
    }

    /// Drops both sockets if the close handshake has not finished within the grace period (from the
    /// first close), at the timers' next sweep after it: a deadline, not a scheduled task — a task
    /// per closing connection filled the event loop's timer heap, whose cancellation is linear.
    private func closeEventually() {
        if closeDeadline == nil { closeDeadline = eventLoop.now + Self.closeGrace }
    }

    /// Gives back the connection's slot and buckets and stops its timers, once; a connection that
    /// was relaying leaves the registry, hands over its usage and writes its log line.
    private func finish() {
        timers.remove(self)
        releaseBuckets()
        if let slot { counts.release(subscriptionID: slot) }
        backend?.connectionFinished(life.end)
        // The handlers hold the connection: letting go of them ends the cycle, started or not.
        client = nil
        backend = nil
        guard started else { return }
        registry.remove(self)
        apiMetrics.active.decrement()
        let end = life.end
        if let end {
            metrics.closed(end)
            if let error = end.usageError { usage.count(error) }
        }
        if let (key, counts) = takeUsage() { usageRecorder.add(key, counts) }
        log.ended(record, usage: usage.totals, end: end)
    }

    /// A data frame relayed from `side`: counted in the metrics and the usage (a message when it
    /// starts one), and marked as activity for the live-connection list.
    func relayed(from side: RelaySide, bytes: Int, startsMessage: Bool) {
        let direction = side == .client ? apiMetrics.inbound : apiMetrics.outbound
        if startsMessage { direction.messages.increment() }
        direction.bytes.increment(by: bytes)
        usage.relayed(from: side, bytes: bytes, startsMessage: startsMessage)
        activeSinceTick = true
        if !relayedSinceReport.load(ordering: .relaxed) { relayedSinceReport.store(true, ordering: .relaxed) }
    }

    /// The usage counted since the last hand-over, under the minute it belongs to.
    func takeUsage() -> (UsageKey, UsageCounts)? {
        usage.take().map { (usageKey($0.minute), $0.counts) }
    }

    private func usageKey(_ minute: Int64) -> UsageKey {
        UsageKey(apiID: apiID, applicationID: caller.applicationID, minute: minute)
    }

    /// What the live-connection list shows of this connection (the store records the reporting node
    /// and starts `lastActiveAt` at `connectedAt`).
    var live: LiveConnection {
        LiveConnection(
            id: id,
            apiID: apiID,
            applicationID: caller.applicationID,
            node: "",
            connectedAt: record.startedAt,
            lastActiveAt: record.startedAt,
            clientAddress: record.clientAddress,
            userAgent: record.userAgent
        )
    }
}
