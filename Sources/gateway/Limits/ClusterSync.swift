import Foundation
import Logging
import NIOCore
import PorticoCore
import ServiceLifecycle

/// Reconciles this gateway's enforcement with the other gateways', through PostgreSQL, every
/// `GATEWAY_CLUSTER_SYNC_INTERVAL_MS`: reports the events each bucket admitted here and takes the
/// cluster's tokens back; writes this node's open connections per subscription and reads the other
/// nodes'; and keeps this node's rows of the live-connection list current (opened and closed
/// connections at the next sync, last activity once a second). Between syncs each gateway decides
/// alone, so the cluster can admit more than a limit by what the other nodes admit in one sync
/// round; docs/gateway.md states the bound. When PostgreSQL is away, each gateway keeps enforcing
/// from its own counts.
struct ClusterSync: Service {
    let store: ClusterStateStore
    let limiter: RateLimiter
    let counts: ConnectionCounts
    let connections: Connections
    let settings: GatewaySettings
    let logger: Logger

    /// A bucket in use here that admitted nothing lately is still refreshed this often, so that its
    /// view stays near the cluster's. Buckets no connection uses are left alone (and may hold a stale
    /// limit) until a connection takes them again.
    static let refreshNanoseconds: UInt64 = 1_000_000_000
    static let heartbeatNanoseconds: UInt64 = 1_000_000_000
    /// How often the connections that relayed a message since are reported active: each is a row
    /// written (`last_active_at`), so once a second cost PostgreSQL a row per active connection per
    /// second (measured: ~490 rows/s for 1,000 clients sending every 2 s; docs/deploy.md).
    static let activityNanoseconds: UInt64 = 15_000_000_000

    func run() async throws {
        // Rows a previous process under this node's name left behind are not open connections.
        try? await store.forgetConnections(node: settings.nodeID)
        await cancelWhenGracefulShutdown {
            var lastHeartbeat: UInt64 = 0
            var lastActivity: UInt64 = 0
            var lastPrune: UInt64 = 0
            var failing = false
            while !Task.isCancelled {
                let now = NIODeadline.now().uptimeNanoseconds
                do {
                    try await syncBuckets(now: now)
                    let changed = counts.takeChangedLocal()
                    let heartbeat = now - lastHeartbeat >= Self.heartbeatNanoseconds
                    let activity = now - lastActivity >= Self.activityNanoseconds
                    if changed != nil || heartbeat || connections.hasLiveChanges {
                        // Opened and closed connections at once, activity every 15 s.
                        let live = connections.takeLiveChanges(withActivity: activity)
                        do {
                            try await store.writeConnections(node: settings.nodeID, counts: changed ?? counts.local, live: live)
                        } catch {
                            counts.markChanged()
                            connections.restore(live)
                            throw error
                        }
                        if heartbeat { lastHeartbeat = now }
                        if activity { lastActivity = now }
                    }
                    counts.setOthers(try await store.otherConnections(node: settings.nodeID, freshness: ClusterStateStore.nodeFreshness))
                    if now - lastPrune >= 60_000_000_000 {
                        limiter.prune(now: now)
                        try await store.prune(node: nil, staleAfter: 60)
                        lastPrune = now
                    }
                    if failing {
                        logger.notice("cluster sync restored")
                        failing = false
                    }
                } catch  where Database.isMissingSchema(error) {
                    // A first start before the schema is migrated: the snapshot service says so, once.
                } catch {
                    if !failing && !Task.isCancelled {
                        logger.error(
                            "cluster sync failed; enforcing from this gateway's own counts",
                            metadata: ["error": "\(Database.describe(error))"]
                        )
                    }
                    failing = true
                }
                try? await pause(for: .milliseconds(settings.clusterSyncIntervalMs))
            }
        }
        // Leaving: the other gateways stop counting this node's connections at once.
        try? await store.prune(node: settings.nodeID, staleAfter: 60)
    }

    private func syncBuckets(now: UInt64) async throws {
        var reports: [ClusterStateStore.BucketReport] = []
        var buckets: [String: (bucket: RateBucket, used: Int64, limit: BusinessPlan.EventLimit)] = [:]
        for bucket in limiter.all {
            let due = bucket.withState { $0.unreported > 0 || ($0.users > 0 && now &- $0.syncedAt >= Self.refreshNanoseconds) }
            guard due else { continue }
            let (used, tokens, limit) = bucket.takeReport(now: now)
            reports.append(
                .init(
                    key: bucket.key,
                    capacity: Double(limit.eventCount),
                    ratePerSecond: Double(limit.eventCount) / limit.seconds,
                    used: Double(used),
                    tokens: tokens
                )
            )
            buckets[bucket.key] = (bucket, used, limit)
        }
        guard !reports.isEmpty else { return }
        do {
            let tokens = try await store.report(reports)
            // PostgreSQL computed the tokens at some instant of the round trip: its middle is the
            // best estimate (the end would lose the refill of half the round trip, every sync).
            let returned = NIODeadline.now().uptimeNanoseconds
            let at = now + (returned &- now) / 2
            for (key, left) in tokens {
                if let reported = buckets[key] { reported.bucket.reconcile(clusterTokens: left, reportedLimit: reported.limit, now: at) }
            }
        } catch {
            for reported in buckets.values { reported.bucket.restore(unreported: reported.used) }
            throw error
        }
    }
}
