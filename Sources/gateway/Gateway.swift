import Atomics
import Foundation
import Logging
import NIOCore
import NIOPosix
import PorticoCore
import ServiceLifecycle

/// The gateway: what every handshake and connection share, and the services that keep it running.
/// `Gateway.build` is the one place it is wired: `gateway serve` and the tests both call it.
struct Gateway: Sendable {
    let settings: GatewaySettings
    let database: Database
    let snapshot: SnapshotHolder
    let verifier: TokenVerifier
    let logger: Logger
    /// The event loops the proxy's connections run on (both sides of a connection share one).
    let group: any EventLoopGroup
    let connections = Connections()
    /// Set on SIGTERM: readiness fails at once (load balancers stop sending new clients) while the
    /// open connections drain.
    let draining = ManagedAtomic(false)
    let timers = ConnectionTimers()
    let limiter = RateLimiter()
    let counts = ConnectionCounts()
    let endpoints = EndpointHealth()
    let pending: PendingHandshakes
    let metrics: GatewayMetrics
    let log: ConnectionLog
    let usage: UsageRecorder
    /// Connection management calls carried to and from the other gateways.
    let calls: ConnectionCalls

    static func build(
        settings: GatewaySettings,
        logger: Logger = Logger(label: "portico.gateway"),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) -> Gateway {
        Gateway(settings: settings, database: Database(url: settings.core.database, poolSize: 3, logger: logger), logger: logger, group: group)
    }

    private init(settings: GatewaySettings, database: Database, logger: Logger, group: any EventLoopGroup) {
        self.settings = settings
        self.database = database
        self.logger = logger
        self.group = group
        snapshot = SnapshotHolder()
        verifier = TokenVerifier(
            issuer: settings.tokenIssuer,
            audience: settings.tokenAudience,
            leeway: settings.tokenLeeway,
            verified: VerifiedTokens(capacity: settings.tokenCacheSize)
        )
        pending = PendingHandshakes(limit: settings.maxPendingHandshakes)
        metrics = GatewayMetrics(endpoints: endpoints)
        log = ConnectionLog(destination: settings.connectionLog, node: settings.nodeID, metrics: metrics)
        usage = UsageRecorder(store: UsageStore(database: database), connections: connections, settings: settings, metrics: metrics, logger: logger)
        calls = ConnectionCalls(
            store: ConnectionCallStore(database: database),
            operations: ConnectionOperations(connections: connections, metrics: metrics, log: log, node: settings.nodeID),
            logger: logger
        )
    }

    /// The services, in start order; a service group shuts them down in reverse: the proxy drains
    /// first, then what records its connections (usage, log, traces), the database last.
    func services(replacing predecessor: Predecessor? = nil) throws -> [any Service] {
        let snapshots = SnapshotService(
            store: GatewayCatalogStore(database: database),
            holder: snapshot,
            connections: connections,
            settings: settings,
            logger: logger
        )
        let cluster = ClusterSync(
            store: ClusterStateStore(database: database),
            limiter: limiter,
            counts: counts,
            connections: connections,
            settings: settings,
            logger: logger
        )
        var services: [any Service] = [database.client]
        if let tracing = try PorticoTracing.bootstrap(service: "gateway", enabled: settings.core.tracing) { services.append(tracing) }
        let admin: any Service = AdminServer.build(gateway: self)
        let management: any Service = ManagementServer.build(gateway: self)
        services += [log, usage, snapshots, cluster, calls]
        if let predecessor {
            services += [AfterPredecessor(predecessor: predecessor, service: admin), AfterPredecessor(predecessor: predecessor, service: management)]
        } else {
            services += [admin, management]
        }
        services.append(ProxyServer(gateway: self, predecessor: predecessor))
        return services
    }
}
