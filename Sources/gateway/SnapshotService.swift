import Atomics
import CMalloc
import Foundation
import Logging
import NIOConcurrencyHelpers
import PorticoCore
import PostgresNIO
import ServiceLifecycle

/// The current route table, swapped whole; read by every handshake under a short lock.
final class SnapshotHolder: Sendable {
    private let box = NIOLockedValueBox<(table: RouteTable?, generation: Int, fullLoads: Int)>((nil, 0, 0))
    private let listening = NIOLockedValueBox<Bool>(false)

    var current: RouteTable? { box.withLockedValue { $0.table } }
    /// How many snapshots have been loaded: operators and tests can see a change arrive.
    var generation: Int { box.withLockedValue { $0.generation } }
    /// How many of them were full loads.
    var fullLoads: Int { box.withLockedValue { $0.fullLoads } }
    var isListening: Bool { listening.withLockedValue { $0 } }

    /// Makes `table` current; `fullLoad` when it was loaded whole rather than changed.
    func replace(_ table: RouteTable, fullLoad: Bool) {
        box.withLockedValue { $0 = (table, $0.generation + 1, $0.fullLoads + (fullLoad ? 1 : 0)) }
    }
    func setListening(_ value: Bool) { listening.withLockedValue { $0 = value } }
}

/// Keeps the snapshot current: a full load at start, then each change `portico_changes` announces
/// applied on its own (`RouteTable.apply`: the changed entity read again, the connections it
/// concerns re-checked). Changes are applied in their `seq` order, a transaction's together: the
/// table with all of them is made current and the connections they concern are re-checked once,
/// so a connection closes with the code the whole transaction deserves. A gap (a notification missed
/// while the LISTEN connection was down, or dropped by a slow consumer) is filled from the change
/// log, and only when the log cannot fill it — pruned, or too far behind — does the gateway reload
/// in full. The log is also read every `catchUpInterval` (a notification lost with nothing after
/// it). A full reload also runs every `GATEWAY_RELOAD_INTERVAL` as the safety net, and on any
/// notification whose payload is not a change (an operator's `NOTIFY portico_changes`); once the
/// gateway serves a snapshot, that load runs beside the changes (`Loader`), which go on being
/// applied, and the loaded table is brought up to the log's last change before it replaces the
/// current one. When PostgreSQL is away the gateway keeps serving the last snapshot and says so.
struct SnapshotService: Service {
    let store: GatewayCatalogStore
    let holder: SnapshotHolder
    let connections: Connections
    let settings: GatewaySettings
    let logger: Logger
    /// Set once the wait for the schema has been logged.
    let waitingForSchema = ManagedAtomic(false)
    /// Set when a notification could not be queued: the next step catches up from the log.
    let dropped = ManagedAtomic(false)

    /// What the applying task does next.
    enum Step: Sendable {
        /// Load the whole catalog (at once when nothing is served yet, else beside the changes).
        case reload
        /// A full load finished: bring it up to the log's last change and make it current.
        case loaded(RouteTable)
        case change(Change)
        /// Read the change log from the table's `seq` on (after a reconnect, or a dropped notification).
        case catchUp
    }

    /// The most changes read from the log at once; a gateway further behind reloads in full.
    static let catchUpLimit = 10_000
    /// How often the log is read even without a notification: one that was lost is applied this late.
    static let catchUpInterval: Duration = .seconds(10)

    func run() async throws {
        let (steps, step) = AsyncStream.makeStream(of: Step.self, bufferingPolicy: .bufferingOldest(Self.catchUpLimit))
        let queue = { @Sendable (next: Step) in
            if case .dropped = step.yield(next) { dropped.store(true, ordering: .relaxed) }
        }
        // Full loads beside the changes: requests made while one runs are one more load, not many.
        let (loads, load) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await next in steps {
                        var next = next
                        while !Task.isCancelled {
                            if dropped.exchange(false, ordering: .relaxed), case .change = next { next = .catchUp }
                            if await take(next, load: { load.yield() }) { break }
                            // Not done (PostgreSQL away, schema not migrated yet): try again soon.
                            try? await pause(for: .seconds(1))
                            if case .change = next { next = .catchUp }
                        }
                    }
                }
                group.addTask {
                    for await _ in loads {
                        // A failed load is logged; the next request (the interval's) tries again.
                        if let table = await fullLoad() { queue(.loaded(table)) }
                    }
                }
                group.addTask {
                    queue(.reload)
                    let tick = min(Self.catchUpInterval, .seconds(settings.reloadInterval))
                    var sinceReload: Duration = .zero
                    while !Task.isCancelled {
                        try? await pause(for: tick)
                        sinceReload += tick
                        if sinceReload >= .seconds(settings.reloadInterval) {
                            sinceReload = .zero
                            queue(.reload)
                        } else {
                            queue(.catchUp)
                        }
                    }
                }
                group.addTask { await listen(queue) }
                await group.waitForAll()
            }
        }
    }

    private func listen(_ queue: @escaping @Sendable (Step) -> Void) async {
        let decoder = JSONDecoder()
        while !Task.isCancelled {
            do {
                try await store.database.client.withConnection { connection in
                    try await connection.listen(on: ChangeNotifier.channel) { notifications in
                        holder.setListening(true)
                        logger.info("listening for changes on \(ChangeNotifier.channel)")
                        queue(.catchUp)  // whatever changed while we were away
                        for try await notification in notifications {
                            if let change = try? decoder.decode(Change.self, from: Data(notification.payload.utf8)), change.seq != nil {
                                queue(.change(change))
                            } else {
                                queue(.reload)
                            }
                        }
                    }
                }
            } catch {
                if Task.isCancelled { break }
                logger.error("lost PostgreSQL; serving the last snapshot until it returns", metadata: ["error": "\(Database.describe(error))"])
            }
            holder.setListening(false)
            try? await pause(for: .seconds(1))
        }
    }

    /// Takes one step; false when it could not be done (it is tried again). `load` asks the loader
    /// for a full load beside the changes.
    private func take(_ step: Step, load: () -> Void) async -> Bool {
        guard let table = holder.current else { return await reload() }
        switch step {
        case .reload:
            load()
            return true
        case .loaded(let loaded):
            return await takeOver(loaded)
        case .change(let change):
            guard let seq = change.seq, seq > table.seq else { return true }  // already in the table
            // A gap, or a transaction with more changes: those are in the log already.
            guard seq == table.seq + 1, change.endsTransaction != false else { return await catchUp() }
            return await apply([change])
        case .catchUp:
            return await catchUp()
        }
    }

    /// Applies the logged changes after the table's; reloads in full when the log cannot say them
    /// all (pruned, a change this version cannot read, or more than `catchUpLimit` behind).
    private func catchUp() async -> Bool {
        guard let table = holder.current else { return await reload() }
        do {
            let changes = try await ChangeNotifier.changes(
                after: table.seq,
                limit: Self.catchUpLimit,
                on: store.database.client,
                logger: logger
            )
            guard changes.first.map({ $0.seq == table.seq + 1 }) ?? true, changes.count < Self.catchUpLimit else {
                logger.notice("the change log cannot fill the gap after change \(table.seq); reloading in full")
                return await reload()
            }
            return await apply(changes)
        } catch is ChangeNotifier.UnknownChange {
            return await reload()
        } catch {
            return failed("catching up with the change log", error)
        }
    }

    /// Applies `changes` (consecutive, after the table's) one by one; at the end of each
    /// transaction the table becomes current and the connections its changes concern are
    /// re-checked. A transaction cut off at the end of `changes` waits for the rest of it.
    private func apply(_ changes: [Change]) async -> Bool {
        guard var next = holder.current else { return await reload() }
        var affected: [RouteTable.Affected] = []
        for change in changes {
            guard let seq = change.seq, seq == next.seq + 1 else { break }
            do {
                guard let concerned = try await advance(&next, by: change) else { return await reload() }
                affected.append(concerned)
            } catch {
                return failed("applying change \(seq)", error)
            }
            if change.endsTransaction != false {
                holder.replace(next, fullLoad: false)
                connections.enforce(next, on: affected, settings: settings)
                affected = []
            }
        }
        return true
    }

    /// Applies one change to `table`: the entity it names read again; nil when it names nothing
    /// this version can read (the caller reloads in full).
    private func advance(_ table: inout RouteTable, by change: Change) async throws -> RouteTable.Affected? {
        let readAt = Date()
        guard let seq = change.seq, let update = try await store.update(for: change) else {
            logger.notice("change \(change.seq ?? 0) does not name what it changed; reloading in full")
            return nil
        }
        return table.apply(update, seq: seq, readAt: readAt)
    }

    /// A full load made beside the changes becomes current once it has every change the log has
    /// after it (the ones applied to the current table meanwhile, and any newer).
    func takeOver(_ loaded: RouteTable) async -> Bool {
        var next = loaded
        do {
            let changes = try await ChangeNotifier.changes(after: loaded.seq, limit: Self.catchUpLimit, on: store.database.client, logger: logger)
            if changes.first.map({ $0.seq == loaded.seq + 1 }) ?? true, changes.count < Self.catchUpLimit {
                for change in changes {
                    guard try await advance(&next, by: change) != nil else { break }
                }
            } else {
                logger.notice("the change log cannot bring the full load up to date; taking it as loaded")
            }
        } catch is ChangeNotifier.UnknownChange {
            logger.notice("the change log has a change this version cannot read; taking the full load as loaded")
        } catch {
            return failed("bringing the full load up to date", error)
        }
        make(next)
        return true
    }

    /// Makes a full load current, re-checks every connection, and gives the memory of the table it
    /// replaced back to the system (the allocator would keep it for the next load otherwise).
    private func make(_ table: RouteTable) {
        holder.replace(table, fullLoad: true)
        connections.enforce(table, settings: settings)
        malloc_trim(0)
    }

    /// Loads the whole catalog; nil when it could not be loaded (logged).
    private func fullLoad() async -> RouteTable? {
        do {
            return try await store.load(into: RouteTable.Builder()).table
        } catch {
            _ = failed("snapshot reload", error)
            return nil
        }
    }

    /// Loads a new snapshot and acts on it, at once; false when it could not be loaded.
    private func reload() async -> Bool {
        do {
            make(try await store.load(into: RouteTable.Builder()).table)
            return true
        } catch  where holder.current == nil && Database.isMissingSchema(error) {
            // A first start: the publisher or devportal is still migrating. Said once, quietly.
            if !waitingForSchema.exchange(true, ordering: .relaxed) {
                logger.info("waiting for the database schema (the publisher and devportal migrate it at start)")
            }
            return false
        } catch {
            return failed("snapshot reload", error)
        }
    }

    /// Logs a step that failed; false.
    private func failed(_ what: String, _ error: any Error) -> Bool {
        if Task.isCancelled { return false }
        let fallback = holder.current == nil ? "nothing to serve yet, retrying" : "serving the last snapshot"
        logger.error("\(what) failed; \(fallback)", metadata: ["error": "\(Database.describe(error))"])
        return false
    }
}
