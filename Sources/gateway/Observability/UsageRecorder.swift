import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PorticoCore
import ServiceLifecycle

/// Usage per API, application and minute, added up here and written to PostgreSQL in one batch
/// every `GATEWAY_USAGE_FLUSH_INTERVAL_MS`, off the relay's path. Connections hand over their counts
/// when a minute ends and when they end; each flush also takes what live connections counted so far,
/// so a gateway that dies loses at most the batch it had not written. A failed write keeps its
/// counts for the next. Every hour, rows older than `USAGE_RETENTION_DAYS` are pruned.
final class UsageRecorder: Service, Sendable {
    private let pending = NIOLockedValueBox<[UsageKey: UsageCounts]>([:])
    private let store: UsageStore
    private let connections: Connections
    private let settings: GatewaySettings
    private let metrics: GatewayMetrics
    private let logger: Logger

    init(store: UsageStore, connections: Connections, settings: GatewaySettings, metrics: GatewayMetrics, logger: Logger) {
        self.store = store
        self.connections = connections
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
    }

    func add(_ key: UsageKey, _ counts: UsageCounts) {
        guard !counts.isEmpty else { return }
        pending.withLockedValue { $0[key, default: UsageCounts()].add(counts) }
    }

    /// A refused handshake counts as an error of its API (and application, when the token was valid).
    func refused(_ record: HandshakeRecord, _ refusal: Refusal) {
        guard let api = record.api else { return }
        var counts = UsageCounts()
        counts.count(refusal.usageError)
        add(UsageKey(apiID: api.id, applicationID: record.caller?.applicationID, minute: UsageKey.minute(of: Date())), counts)
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastPrune: ContinuousClock.Instant?
            while !Task.isCancelled {
                try? await pause(for: .milliseconds(self.settings.usageFlushIntervalMs))
                await self.flush()
                if lastPrune.map({ ContinuousClock.now - $0 >= .seconds(3600) }) ?? true {
                    lastPrune = ContinuousClock.now
                    await self.prune()
                }
            }
        }
        // The proxy has drained by now (it stops first): its connections' counts are all here.
        await flush()
    }

    /// Writes what was counted since the last flush, live connections' counts so far included.
    func flush() async {
        for (key, counts) in await connections.takeUsage() { add(key, counts) }
        let batch = pending.withLockedValue { pending in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.add(batch)
            metrics.usageFlushed(rows: batch.count, failed: false)
        } catch {
            // Kept for the next flush; a long outage keeps at most one row per API, application and minute.
            pending.withLockedValue { pending in
                for (key, counts) in batch { pending[key, default: UsageCounts()].add(counts) }
            }
            // A shutdown interrupted it (the final flush writes the batch), or the schema is not
            // migrated yet (the snapshot service says so): nothing failed.
            if Task.isCancelled || Database.isMissingSchema(error) { return }
            metrics.usageFlushed(rows: 0, failed: true)
            logger.error("usage flush failed; kept for the next one", metadata: ["rows": "\(batch.count)", "error": "\(Database.describe(error))"])
        }
    }

    private func prune() async {
        do {
            let gone = try await store.prune(olderThanDays: settings.usageRetentionDays)
            if gone > 0 { logger.info("pruned usage past its retention", metadata: ["rows": "\(gone)", "days": "\(settings.usageRetentionDays)"]) }
        } catch {
            // A shutdown is not a failure: the next start prunes.
            if Task.isCancelled || error is CancellationError || Database.isMissingSchema(error) { return }
            logger.warning("usage pruning failed", metadata: ["error": "\(Database.describe(error))"])
        }
    }
}
