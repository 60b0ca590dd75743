import Atomics
import Foundation
import Logging
import NIOConcurrencyHelpers
import PorticoCore
import PostgresNIO
import ServiceLifecycle

/// The current route table, swapped whole; read by every handshake under a short lock.
final class SnapshotHolder: Sendable {
    private let box = NIOLockedValueBox<(table: RouteTable?, generation: Int)>((nil, 0))
    private let listening = NIOLockedValueBox<Bool>(false)

    var current: RouteTable? { box.withLockedValue { $0.table } }
    /// How many snapshots have been loaded: operators and tests can see a change arrive.
    var generation: Int { box.withLockedValue { $0.generation } }
    var isListening: Bool { listening.withLockedValue { $0 } }

    func replace(_ table: RouteTable) { box.withLockedValue { $0 = (table, $0.generation + 1) } }
    func setListening(_ value: Bool) { listening.withLockedValue { $0 = value } }
}

/// Keeps the snapshot current: a full load at start, `LISTEN portico_changes` to reload within
/// moments of every committed change, a periodic reload as the safety net, and a reload on every
/// reconnect. When PostgreSQL is away the gateway keeps serving the last snapshot and says so.
struct SnapshotService: Service {
    let store: GatewayCatalogStore
    let holder: SnapshotHolder
    let connections: Connections
    let settings: GatewaySettings
    let logger: Logger
    /// Set once the wait for the schema has been logged.
    let waitingForSchema = ManagedAtomic(false)

    func run() async throws {
        let (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                // Reloads, coalesced: a burst of notifications costs one or two loads.
                group.addTask {
                    for await _ in signals {
                        if await !reload() {
                            // Not loaded (PostgreSQL away, schema not migrated yet): try again soon.
                            try? await Task.sleep(for: .seconds(1))
                            signal.yield()
                        }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        signal.yield()
                        try? await Task.sleep(for: .seconds(settings.reloadInterval))
                    }
                }
                group.addTask { await listen(signal: signal) }
                await group.waitForAll()
            }
        }
    }

    private func listen(signal: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await store.database.client.withConnection { connection in
                    try await connection.listen(on: ChangeNotifier.channel) { notifications in
                        holder.setListening(true)
                        logger.info("listening for changes on \(ChangeNotifier.channel)")
                        signal.yield()  // catch up with whatever changed while we were away
                        for try await _ in notifications { signal.yield() }
                    }
                }
            } catch {
                if Task.isCancelled { break }
                logger.error("lost PostgreSQL; serving the last snapshot until it returns", metadata: ["error": "\(Database.describe(error))"])
            }
            holder.setListening(false)
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Loads a new snapshot and acts on it; false when it could not be loaded.
    private func reload() async -> Bool {
        do {
            let table = RouteTable(try await store.load())
            holder.replace(table)
            connections.enforce(table, settings: settings)
            return true
        } catch  where holder.current == nil && Database.isMissingSchema(error) {
            // A first start: the publisher or devportal is still migrating. Said once, quietly.
            if !waitingForSchema.exchange(true, ordering: .relaxed) {
                logger.info("waiting for the database schema (the publisher and devportal migrate it at start)")
            }
            return false
        } catch {
            if Task.isCancelled { return false }
            let fallback = holder.current == nil ? "nothing to serve yet, retrying" : "serving the last snapshot"
            logger.error("snapshot reload failed; \(fallback)", metadata: ["error": "\(Database.describe(error))"])
            return false
        }
    }
}
