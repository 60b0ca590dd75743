import Atomics
import NIOConcurrencyHelpers
import NIOCore
import PorticoCore

/// The registry of live connections, to act on every change: a revoked token, a withdrawn
/// subscription, a blocked API. A change re-runs the handshake's access decision for the
/// connections it concerns, found by index (API, application, token id); a full reload for all.
final class Connections: Sendable {
    private struct State {
        var live: [String: RelayedConnection] = [:]
        /// Live connection ids by API, by application and by token id (`RouteTable.Affected`).
        var byAPI: [String: Set<String>] = [:]
        var byApplication: [String: Set<String>] = [:]
        var byToken: [String: Set<String>] = [:]
        /// Opened and closed since the live-connection list was last reported.
        var opened: [String: RelayedConnection] = [:]
        var closed: Set<String> = []
    }

    private let state = NIOLockedValueBox(State())

    func add(_ connection: RelayedConnection) {
        state.withLockedValue {
            $0.live[connection.id] = connection
            $0.opened[connection.id] = connection
            $0.byAPI[connection.apiID, default: []].insert(connection.id)
            $0.byApplication[connection.caller.applicationID, default: []].insert(connection.id)
            $0.byToken[connection.caller.jti, default: []].insert(connection.id)
        }
    }

    func remove(_ connection: RelayedConnection) {
        state.withLockedValue {
            guard $0.live.removeValue(forKey: connection.id) != nil else { return }
            if $0.opened.removeValue(forKey: connection.id) == nil { $0.closed.insert(connection.id) }
            Self.unindex(connection.id, from: &$0.byAPI, connection.apiID)
            Self.unindex(connection.id, from: &$0.byApplication, connection.caller.applicationID)
            Self.unindex(connection.id, from: &$0.byToken, connection.caller.jti)
        }
    }

    private static func unindex(_ id: String, from index: inout [String: Set<String>], _ key: String) {
        index[key]?.remove(id)
        if index[key]?.isEmpty == true { index[key] = nil }
    }

    /// The live connections some changes concern, each once.
    func concerned(by affected: [RouteTable.Affected]) -> [RelayedConnection] {
        state.withLockedValue { state in
            var ids: Set<String> = []
            for change in affected {
                switch change {
                case .none: continue
                case .all: return Array(state.live.values)
                case .api(let id): ids.formUnion(state.byAPI[id] ?? [])
                case .application(let id): ids.formUnion(state.byApplication[id] ?? [])
                case .token(let id): ids.formUnion(state.byToken[id] ?? [])
                }
            }
            return ids.compactMap { state.live[$0] }
        }
    }

    var count: Int { state.withLockedValue { $0.live.count } }

    /// The live connection `id` on this gateway.
    func find(_ id: String) -> RelayedConnection? { state.withLockedValue { $0.live[id] } }

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
    func enforce(_ table: RouteTable, on affected: [RouteTable.Affected] = [.all], settings: GatewaySettings) {
        for connection in concerned(by: affected) {
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
            guard connection.routed == (api.routes != nil) else {
                // Proxied to routed or back: the connection's other side is not what the API has now.
                connection.close(.goingAway, reason: "the API changed between a WebSocket endpoint and routes; reconnect")
                continue
            }
            do {
                _ = try Access.check(caller, api, in: table)
                connection.apply(ConnectionPolicy.resolve(caller, api, in: table, settings: settings))
                if let routes = api.routes { connection.apply(routes) }
            } catch {
                connection.close(.forbidden, reason: error.message)
            }
        }
    }

    /// Closes every connection with 1001 (shutdown).
    func closeAll() {
        for connection in all { connection.close(.goingAway, reason: "gateway restarting") }
    }
}
