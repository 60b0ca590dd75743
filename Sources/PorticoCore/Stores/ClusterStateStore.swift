import Foundation
import Logging
import PostgresNIO

/// What gateways share to enforce plans across nodes: the token buckets of event limits and each
/// node's open connections per subscription. Only gateways use it, in batches off the relay's path.
package struct ClusterStateStore: Sendable {
    package let database: Database

    package init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    /// A node whose heartbeat is older than this is not counted, and its connections are not listed.
    package static let nodeFreshness: TimeInterval = 5

    /// One bucket's report: the events a node admitted since its last report, the tokens it sees
    /// left (which a bucket new to the cluster starts from), and the bucket's limit.
    package struct BucketReport: Sendable {
        package let key: String
        package let capacity: Double
        package let ratePerSecond: Double
        package let used: Double
        package let tokens: Double

        package init(key: String, capacity: Double, ratePerSecond: Double, used: Double, tokens: Double) {
            self.key = key
            self.capacity = capacity
            self.ratePerSecond = ratePerSecond
            self.used = used
            self.tokens = tokens
        }
    }

    /// Applies the reports in one statement and returns each bucket's tokens left in the cluster.
    /// A bucket refills at its rate up to its capacity; a changed capacity adds (or takes) the
    /// difference; tokens may fall below zero — to at most minus one capacity — when nodes admitted
    /// more together than was left, and that debt is repaid before anything more is admitted.
    package func report(_ reports: [BucketReport]) async throws -> [String: Double] {
        guard !reports.isEmpty else { return [:] }
        let rows = try await database.client.query(
            """
            INSERT INTO rate_buckets AS b (key, capacity, rate_per_second, tokens, refilled_at, last_reported)
            SELECT r.key, r.capacity, r.rate, r.tokens, now(), r.used
            FROM unnest(\(reports.map(\.key))::text[], \(reports.map(\.capacity))::float8[], \(reports.map(\.ratePerSecond))::float8[],
                        \(reports.map(\.used))::float8[], \(reports.map(\.tokens))::float8[]) AS r(key, capacity, rate, used, tokens)
            ON CONFLICT (key) DO UPDATE SET
                tokens = GREATEST(-EXCLUDED.capacity,
                    LEAST(EXCLUDED.capacity,
                          b.tokens + (EXCLUDED.capacity - b.capacity)
                          + b.rate_per_second * EXTRACT(EPOCH FROM now() - b.refilled_at)::float8)
                    - EXCLUDED.last_reported),
                capacity = EXCLUDED.capacity, rate_per_second = EXCLUDED.rate_per_second, refilled_at = now(),
                last_reported = EXCLUDED.last_reported
            RETURNING key, tokens
            """,
            logger: logger
        )
        var tokens: [String: Double] = [:]
        for try await (key, left) in rows.decode((String, Double).self) { tokens[key] = left }
        return tokens
    }

    /// What changed in a node's open connections since its last report: connections opened,
    /// connections closed, and those that relayed a message (their `last_active_at` becomes now).
    package struct LiveChanges: Sendable {
        package var opened: [LiveConnection] = []
        package var closed: [String] = []
        package var active: [String] = []

        package init() {}
    }

    /// Replaces `node`'s connection counts and heartbeat, and applies the changes to its open connections.
    package func writeConnections(node: String, counts: [String: Int], live: LiveChanges = .init()) async throws {
        let subscriptions = Array(counts.keys)
        let connections = subscriptions.map { counts[$0]! }
        try await database.transaction { connection in
            try await connection.query(
                """
                INSERT INTO gateway_nodes (node, heartbeat_at) VALUES (\(node), now())
                ON CONFLICT (node) DO UPDATE SET heartbeat_at = now()
                """,
                logger: logger
            )
            try await connection.query("DELETE FROM gateway_connection_counts WHERE node = \(node)", logger: logger)
            try await connection.query(
                """
                INSERT INTO gateway_connection_counts (node, subscription_id, connections)
                SELECT \(node), s::uuid, c FROM unnest(\(subscriptions)::text[], \(connections)::integer[]) AS t(s, c)
                """,
                logger: logger
            )
            let opened = live.opened
            if !opened.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO gateway_connections (id, node, api_id, application_id, connected_at, last_active_at, client_address, user_agent)
                    SELECT id::uuid, \(node), api::uuid, app::uuid, at, at, address, NULLIF(agent, '')
                    FROM unnest(\(opened.map(\.id))::text[], \(opened.map(\.apiID))::text[], \(opened.map(\.applicationID))::text[],
                                \(opened.map(\.connectedAt))::timestamptz[], \(opened.map(\.clientAddress))::text[],
                                \(opened.map { $0.userAgent ?? "" })::text[]) AS t(id, api, app, at, address, agent)
                    ON CONFLICT (id) DO NOTHING
                    """,
                    logger: logger
                )
            }
            if !live.active.isEmpty {
                try await connection.query(
                    "UPDATE gateway_connections SET last_active_at = now() WHERE id = ANY(\(live.active)::uuid[]) AND node = \(node)",
                    logger: logger
                )
            }
            if !live.closed.isEmpty {
                try await connection.query(
                    "DELETE FROM gateway_connections WHERE id = ANY(\(live.closed)::uuid[]) AND node = \(node)",
                    logger: logger
                )
            }
        }
    }

    /// Forgets every connection `node` reported before (a gateway starting under a name it had before).
    package func forgetConnections(node: String) async throws {
        try await database.client.query("DELETE FROM gateway_connections WHERE node = \(node)", logger: logger)
    }

    /// The open connections to an API on every live gateway (heartbeat within `freshness`), oldest first.
    package func liveConnections(apiID: String, freshness: TimeInterval) async throws -> [LiveConnection] {
        let rows = try await database.client.query(
            """
            SELECT c.id::text, c.api_id::text, c.application_id::text, a.name, c.node, c.connected_at, c.last_active_at,
                   c.client_address, c.user_agent
            FROM gateway_connections c
            JOIN gateway_nodes n ON n.node = c.node
            LEFT JOIN applications a ON a.id = c.application_id
            WHERE c.api_id = \(apiID)::uuid AND n.heartbeat_at > now() - make_interval(secs => \(freshness))
            ORDER BY c.connected_at, c.id
            """,
            logger: logger
        )
        var list: [LiveConnection] = []
        for try await (id, api, app, name, node, connected, active, address, agent) in rows.decode(
            (String, String, String, String?, String, Date, Date, String, String?).self
        ) {
            list.append(
                LiveConnection(
                    id: id,
                    apiID: api,
                    applicationID: app,
                    applicationName: name,
                    node: node,
                    connectedAt: connected,
                    lastActiveAt: active,
                    clientAddress: address,
                    userAgent: agent
                )
            )
        }
        return list
    }

    /// Open connections per subscription on the other live nodes (heartbeat within `freshness`).
    package func otherConnections(node: String, freshness: TimeInterval) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        let rows = try await database.client.query(
            """
            SELECT c.subscription_id::text, sum(c.connections)::integer
            FROM gateway_connection_counts c JOIN gateway_nodes n ON n.node = c.node
            WHERE c.node <> \(node) AND n.heartbeat_at > now() - make_interval(secs => \(freshness))
            GROUP BY c.subscription_id
            """,
            logger: logger
        )
        for try await (subscription, open) in rows.decode((String, Int).self) { counts[subscription] = open }
        return counts
    }

    /// Forgets a node (at shutdown) and nodes silent for longer than `staleAfter`, and buckets that
    /// have refilled completely (they start full when next used).
    package func prune(node: String?, staleAfter: TimeInterval) async throws {
        try await database.client.query(
            """
            DELETE FROM gateway_nodes
            WHERE node = \(node) OR heartbeat_at < now() - make_interval(secs => \(staleAfter))
            """,
            logger: logger
        )
        try await database.client.query(
            """
            DELETE FROM rate_buckets
            WHERE tokens + rate_per_second * EXTRACT(EPOCH FROM now() - refilled_at)::float8 >= capacity
            """,
            logger: logger
        )
    }
}
