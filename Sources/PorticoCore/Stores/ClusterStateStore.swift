import Foundation
import Logging
import PostgresNIO

/// What gateways share to enforce plans across nodes: the token buckets of event limits and each
/// node's open connections per subscription. Only gateways use it, in batches off the relay's path.
public struct ClusterStateStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    /// One bucket's report: the events a node admitted since its last report, the tokens it sees
    /// left (which a bucket new to the cluster starts from), and the bucket's limit.
    public struct BucketReport: Sendable {
        public let key: String
        public let capacity: Double
        public let ratePerSecond: Double
        public let used: Double
        public let tokens: Double

        public init(key: String, capacity: Double, ratePerSecond: Double, used: Double, tokens: Double) {
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
    public func report(_ reports: [BucketReport]) async throws -> [String: Double] {
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
            """, logger: logger)
        var tokens: [String: Double] = [:]
        for try await (key, left) in rows.decode((String, Double).self) { tokens[key] = left }
        return tokens
    }

    /// Replaces `node`'s connection counts and heartbeat.
    public func writeConnections(node: String, counts: [String: Int]) async throws {
        let subscriptions = Array(counts.keys)
        let connections = subscriptions.map { counts[$0]! }
        try await database.transaction { connection in
            try await connection.query(
                """
                INSERT INTO gateway_nodes (node, heartbeat_at) VALUES (\(node), now())
                ON CONFLICT (node) DO UPDATE SET heartbeat_at = now()
                """, logger: logger)
            try await connection.query("DELETE FROM gateway_connection_counts WHERE node = \(node)", logger: logger)
            try await connection.query(
                """
                INSERT INTO gateway_connection_counts (node, subscription_id, connections)
                SELECT \(node), s::uuid, c FROM unnest(\(subscriptions)::text[], \(connections)::integer[]) AS t(s, c)
                """, logger: logger)
        }
    }

    /// Open connections per subscription on the other live nodes (heartbeat within `freshness`).
    public func otherConnections(node: String, freshness: TimeInterval) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        let rows = try await database.client.query(
            """
            SELECT c.subscription_id::text, sum(c.connections)::integer
            FROM gateway_connection_counts c JOIN gateway_nodes n ON n.node = c.node
            WHERE c.node <> \(node) AND n.heartbeat_at > now() - make_interval(secs => \(freshness))
            GROUP BY c.subscription_id
            """, logger: logger)
        for try await (subscription, open) in rows.decode((String, Int).self) { counts[subscription] = open }
        return counts
    }

    /// Forgets a node (at shutdown) and nodes silent for longer than `staleAfter`, and buckets that
    /// have refilled completely (they start full when next used).
    public func prune(node: String?, staleAfter: TimeInterval) async throws {
        try await database.client.query(
            """
            DELETE FROM gateway_nodes
            WHERE node = \(node) OR heartbeat_at < now() - make_interval(secs => \(staleAfter))
            """, logger: logger)
        try await database.client.query(
            """
            DELETE FROM rate_buckets
            WHERE tokens + rate_per_second * EXTRACT(EPOCH FROM now() - refilled_at)::float8 >= capacity
            """, logger: logger)
    }
}
