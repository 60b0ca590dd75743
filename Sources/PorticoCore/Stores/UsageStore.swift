import Foundation
import Logging
import PostgresNIO

/// Usage per API, application and minute: gateways add their batches, the publisher and the
/// devportal read series and breakdowns, and rows older than the retention are pruned.
package struct UsageStore: Sendable {
    package let database: Database

    package init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    /// Adds a batch in one statement: counts add to what other gateways and earlier batches wrote.
    package func add(_ batch: [UsageKey: UsageCounts]) async throws {
        guard !batch.isEmpty else { return }
        let keys = Array(batch.keys)
        let counts = keys.map { batch[$0]! }
        func column(_ value: (UsageCounts) -> Int) -> [Int] { counts.map(value) }
        try await database.client.query(
            """
            INSERT INTO usage_minutes AS u (api_id, application_id, minute, connections, messages_in, messages_out, bytes_in, bytes_out,
                                            errors_auth, errors_throttled, errors_backend, errors_other)
            SELECT r.api::uuid, r.app::uuid, to_timestamp(r.minute * 60), r.c, r.mi, r.mo, r.bi, r.bo, r.ea, r.et, r.eb, r.eo
            FROM unnest(\(keys.map(\.apiID))::text[], \(keys.map(\.applicationID))::text[], \(keys.map { Int($0.minute) })::bigint[],
                        \(column(\.connections))::bigint[], \(column(\.messagesIn))::bigint[], \(column(\.messagesOut))::bigint[],
                        \(column(\.bytesIn))::bigint[], \(column(\.bytesOut))::bigint[], \(column(\.errors.auth))::bigint[],
                        \(column(\.errors.throttled))::bigint[], \(column(\.errors.backend))::bigint[], \(column(\.errors.other))::bigint[])
                 AS r(api, app, minute, c, mi, mo, bi, bo, ea, et, eb, eo)
            ON CONFLICT (api_id, minute, application_id) DO UPDATE SET
                connections = u.connections + EXCLUDED.connections,
                messages_in = u.messages_in + EXCLUDED.messages_in, messages_out = u.messages_out + EXCLUDED.messages_out,
                bytes_in = u.bytes_in + EXCLUDED.bytes_in, bytes_out = u.bytes_out + EXCLUDED.bytes_out,
                errors_auth = u.errors_auth + EXCLUDED.errors_auth, errors_throttled = u.errors_throttled + EXCLUDED.errors_throttled,
                errors_backend = u.errors_backend + EXCLUDED.errors_backend, errors_other = u.errors_other + EXCLUDED.errors_other
            """,
            logger: logger
        )
    }

    /// Deletes the minutes older than `days` days; returns how many rows went.
    @discardableResult
    package func prune(olderThanDays days: Int) async throws -> Int {
        let rows = try await database.client.query(
            """
            WITH gone AS (DELETE FROM usage_minutes WHERE minute < now() - make_interval(days => \(days)::integer) RETURNING 1)
            SELECT count(*)::bigint FROM gone
            """,
            logger: logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Whose usage: one API's (every application), or one application's (every API).
    package enum Scope: Sendable {
        case api(String)
        case application(String)
    }

    static let sums = """
        sum(u.connections)::bigint, sum(u.messages_in)::bigint, sum(u.messages_out)::bigint, sum(u.bytes_in)::bigint,
        sum(u.bytes_out)::bigint, sum(u.errors_auth)::bigint, sum(u.errors_throttled)::bigint, sum(u.errors_backend)::bigint,
        sum(u.errors_other)::bigint
        """

    private typealias Sums = (Int, Int, Int, Int, Int, Int, Int, Int, Int)

    private static func counts(_ s: Sums) -> UsageCounts {
        var counts = UsageCounts()
        (counts.connections, counts.messagesIn, counts.messagesOut, counts.bytesIn, counts.bytesOut) = (s.0, s.1, s.2, s.3, s.4)
        (counts.errors.auth, counts.errors.throttled, counts.errors.backend, counts.errors.other) = (s.5, s.6, s.7, s.8)
        return counts
    }

    /// The scope's usage in `[from, to)`, one point per interval of `granularity` (UTC) that has any.
    package func series(_ scope: Scope, from: Date, to: Date, granularity: UsageGranularity) async throws -> [UsagePoint] {
        let (api, application) = scope.ids
        let rows = try await database.client.query(
            """
            SELECT (floor(extract(epoch FROM u.minute) / \(granularity.seconds)) * \(granularity.seconds))::bigint, \(unescaped: Self.sums)
            FROM usage_minutes u
            WHERE (\(api)::uuid IS NULL OR u.api_id = \(api)::uuid)
              AND (\(application)::uuid IS NULL OR u.application_id = \(application)::uuid)
              AND u.minute >= \(from) AND u.minute < \(to)
            GROUP BY 1 ORDER BY 1
            """,
            logger: logger
        )
        var points: [UsagePoint] = []
        for try await row in rows {
            let (start, c, mi, mo, bi, bo, ea, et, eb, eo) = try row.decode((Int, Int, Int, Int, Int, Int, Int, Int, Int, Int).self)
            points.append(
                UsagePoint(
                    start: Date(timeIntervalSince1970: TimeInterval(start)),
                    usage: Self.counts((c, mi, mo, bi, bo, ea, et, eb, eo))
                )
            )
        }
        return points
    }

    /// One part of a scope's usage: an application of an API, or an API of an application.
    package struct Share: Sendable, Encodable {
        package let id: String
        package let name: String?
        package let version: String?
        package let usage: UsageCounts
    }

    /// The scope's usage in `[from, to)` per application (for an API) or per API (for an application).
    package func breakdown(_ scope: Scope, from: Date, to: Date) async throws -> [Share] {
        let rows: PostgresRowSequence
        switch scope {
        case .api(let id):
            rows = try await database.client.query(
                """
                SELECT u.application_id::text, a.name, NULL::text, \(unescaped: Self.sums)
                FROM usage_minutes u LEFT JOIN applications a ON a.id = u.application_id
                WHERE u.api_id = \(id)::uuid AND u.minute >= \(from) AND u.minute < \(to)
                GROUP BY 1, 2 ORDER BY 1
                """,
                logger: logger
            )
        case .application(let id):
            rows = try await database.client.query(
                """
                SELECT u.api_id::text, a.name, a.version, \(unescaped: Self.sums)
                FROM usage_minutes u LEFT JOIN apis a ON a.id = u.api_id
                WHERE u.application_id = \(id)::uuid AND u.minute >= \(from) AND u.minute < \(to)
                GROUP BY 1, 2, 3 ORDER BY 1
                """,
                logger: logger
            )
        }
        var shares: [Share] = []
        for try await row in rows {
            let (id, name, version, c, mi, mo, bi, bo, ea, et, eb, eo) = try row.decode(
                (String, String?, String?, Int, Int, Int, Int, Int, Int, Int, Int, Int).self
            )
            shares.append(Share(id: id, name: name, version: version, usage: Self.counts((c, mi, mo, bi, bo, ea, et, eb, eo))))
        }
        return shares
    }
}

extension UsageStore.Scope {
    fileprivate var ids: (api: String?, application: String?) {
        switch self {
        case .api(let id): (id, nil)
        case .application(let id): (nil, id)
        }
    }
}
