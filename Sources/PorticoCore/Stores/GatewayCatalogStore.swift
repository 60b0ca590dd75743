import Foundation
import Logging
import PostgresNIO

/// What gateways read: the whole catalog (`load`, streamed into a `GatewayCatalogSink` row by
/// row), and what one logged change means for it (`update(for:)`), read with the same queries
/// narrowed to the changed entity.
package struct GatewayCatalogStore: Sendable {
    package let database: Database

    package init(database: Database) {
        self.database = database
    }

    /// The whole catalog, in one repeatable-read transaction so that the parts agree.
    package func load() async throws -> GatewayCatalog {
        try await load(into: GatewayCatalog())
    }

    /// The whole catalog streamed into `sink`, in one repeatable-read transaction; `finish` gets the
    /// last change (`seq`) the catalog includes.
    package func load<Sink: GatewayCatalogSink>(into sink: Sink) async throws -> Sink {
        let logger = database.logger
        // Taken before the read transaction starts: every change committed before this instant is in the catalog.
        let startedAt = Date()
        return try await readTransaction { connection in
            var sink = sink
            // The first statement fixes the snapshot: the catalog is everything up to this change.
            var seq: Int64 = 0
            for try await last in try await connection.query("SELECT coalesce(max(seq), 0) FROM changes", logger: logger)
                .decode(Int64.self)
            {
                seq = last
            }
            for api in try await Self.apis(try await connection.query("\(unescaped: Self.servedAPIs)", logger: logger)) { sink.add(api) }
            for plan in try await BusinessPlanStore.decode(
                try await connection.query("\(unescaped: BusinessPlanStore.selectColumns)", logger: logger)
            ) {
                sink.add(plan)
            }
            for try await (id, limit) in try await Self.applications(
                try await connection.query("\(unescaped: Self.applicationColumns)", logger: logger)
            ) {
                sink.addApplication(id, limit: limit)
            }
            for try await subscription in try await Self.subscriptions(
                try await connection.query("\(unescaped: Self.subscriptionColumns)", logger: logger)
            ) {
                sink.add(subscription)
            }
            for try await key in try await Self.keys(try await connection.query("\(unescaped: Self.keyColumns)", logger: logger)) {
                sink.add(key)
            }
            for try await (jti, expires) in try await connection.query(
                "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > now()",
                logger: logger
            ).decode((String, Date).self) {
                sink.addRevokedToken(jti, expiresAt: expires)
            }
            for key in try await Self.signingKeys(on: connection, logger: logger) { sink.add(key) }
            for try await (id, key) in try await Self.connectionKeys(
                try await connection.query("\(unescaped: Self.connectionKeyColumns)", logger: logger)
            ) {
                sink.addConnectionKey(id, key)
            }
            sink.finish(seq: seq, loadedAt: startedAt)
            return sink
        }
    }

    /// `body` in one read-only repeatable-read transaction: the reads agree with each other.
    private func readTransaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let logger = database.logger
        return try await database.client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let result = try await body(connection)
                try await connection.query("COMMIT", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// What `change` means for a gateway's catalog, read now (after its transaction committed):
    /// the changed entity as it is, or its absence. Nil when the change does not say enough (a
    /// subscription or key change without its application): the caller reloads in full.
    package func update(for change: Change) async throws -> GatewayCatalog.Update? {
        let logger = database.logger
        switch change.entity {
        case .api:
            return try await readTransaction { connection in
                let api = try await Self.apis(
                    try await connection.query("\(unescaped: Self.servedAPIs) AND a.id = \(change.id)::uuid", logger: logger)
                ).first
                var keys: [String: GatewayCatalog.ConnectionKey] = [:]
                for try await (id, key) in try await Self.connectionKeys(
                    try await connection.query("\(unescaped: Self.connectionKeyColumns) WHERE api_id = \(change.id)::uuid", logger: logger)
                ) {
                    keys[id] = key
                }
                return .api(id: change.id, api, connectionKeys: keys)
            }
        case .businessPlan:
            let plan = try await BusinessPlanStore.decode(
                try await database.client.query(
                    "\(unescaped: BusinessPlanStore.selectColumns) WHERE id = \(change.id)::uuid",
                    logger: logger
                )
            ).first
            return .plan(id: change.id, plan)
        case .application:
            return .application(id: change.id, try await application(id: change.id))
        case .subscription, .applicationKey:
            guard let id = change.applicationId else { return nil }
            return .application(id: id, try await application(id: id))
        case .token:
            guard let expires = change.expiresAt.flatMap({ try? Date.ISO8601FormatStyle().parse($0) }) else { return nil }
            return .revokedToken(jti: change.id, expiresAt: expires)
        case .signingKey:
            return try await database.client.withConnection { connection in
                .signingKeys(try await Self.signingKeys(on: connection, logger: logger))
            }
        case .connectionKey:
            var key: GatewayCatalog.ConnectionKey?
            for try await (_, found) in try await Self.connectionKeys(
                try await database.client.query("\(unescaped: Self.connectionKeyColumns) WHERE id = \(change.id)::uuid", logger: logger)
            ) {
                key = found
            }
            return .connectionKey(id: change.id, key)
        }
    }

    /// One application as a gateway holds it (nil: it does not exist): its plan's limit, keys and
    /// subscriptions in one statement (one round trip, one snapshot — the change that costs most
    /// often, a subscription's or a key's, is this read).
    private func application(id: String) async throws -> GatewayCatalog.Application? {
        let rows = try await database.client.query(
            """
            SELECT p.event_count, p.time_unit, p.unit_time,
                   ARRAY(SELECT consumer_key FROM application_keys k WHERE k.application_id = a.id ORDER BY consumer_key),
                   ARRAY(SELECT key_type FROM application_keys k WHERE k.application_id = a.id ORDER BY consumer_key),
                   ARRAY(SELECT s.id::text FROM subscriptions s WHERE s.application_id = a.id ORDER BY s.id),
                   ARRAY(SELECT s.api_id::text FROM subscriptions s WHERE s.application_id = a.id ORDER BY s.id),
                   ARRAY(SELECT s.status FROM subscriptions s WHERE s.application_id = a.id ORDER BY s.id),
                   ARRAY(SELECT s.plan_id::text FROM subscriptions s WHERE s.application_id = a.id ORDER BY s.id)
            FROM applications a JOIN application_plans p ON p.id = a.plan_id WHERE a.id = \(id)::uuid
            """,
            logger: database.logger
        )
        for try await (count, unit, unitTime, consumerKeys, keyTypes, subscriptionIDs, apiIDs, statuses, planIDs) in rows.decode(
            (Int64?, String?, Int?, [String], [String], [String], [String], [String], [String]).self
        ) {
            var application = GatewayCatalog.Application(
                id: id,
                limit: BusinessPlan.EventLimit(eventCount: count, timeUnit: unit, unitTime: unitTime)
            )
            application.keys = zip(consumerKeys, keyTypes).map { key, type in Self.key(key, application: id, type: type) }
            application.subscriptions = subscriptionIDs.indices.map { index in
                Self.subscription(subscriptionIDs[index], application: id, api: apiIDs[index], status: statuses[index], plan: planIDs[index])
            }
            return application
        }
        return nil
    }

    // MARK: The queries, shared by the full load and the changes

    private static let servedAPIs = "\(APIStore.selectColumns) WHERE a.lifecycle_state <> 'CREATED' AND a.lifecycle_state <> 'RETIRED'"
    private static let subscriptionColumns = "SELECT id::text, application_id::text, api_id::text, status, plan_id::text FROM subscriptions"
    private static let applicationColumns = """
        SELECT a.id::text, p.event_count, p.time_unit, p.unit_time
        FROM applications a JOIN application_plans p ON p.id = a.plan_id
        """
    private static let keyColumns = "SELECT consumer_key, application_id::text, key_type FROM application_keys"
    private static let connectionKeyColumns = "SELECT id::text, api_id::text, secret_hash FROM connection_keys"

    private static func apis(_ rows: PostgresRowSequence) async throws -> [GatewayCatalog.API] {
        try await APIStore.decode(rows).map { api in
            var limits = api.limits
            limits.allowedOrigins = limits.allowedOrigins.compactMap(APILimits.normalizedOrigin)
            return GatewayCatalog.API(
                id: api.id,
                name: api.name,
                context: api.context,
                version: api.version,
                state: api.lifecycleState,
                isDefaultVersion: api.isDefaultVersion,
                productionEndpoint: api.productionEndpoint,
                sandboxEndpoint: api.sandboxEndpoint,
                backendCAFile: api.backendCAFile,
                routes: api.routes,
                limits: limits,
                resilience: api.resilience
            )
        }
    }

    private static func subscriptions(_ rows: PostgresRowSequence) async throws -> some AsyncSequence<GatewayCatalog.Subscription, any Error> {
        rows.decode((String, String, String, String, String).self).map { id, app, api, status, plan in
            subscription(id, application: app, api: api, status: status, plan: plan)
        }
    }

    /// A subscription from its columns (an unknown status reads as blocked).
    private static func subscription(_ id: String, application: String, api: String, status: String, plan: String) -> GatewayCatalog.Subscription {
        GatewayCatalog.Subscription(
            id: id,
            applicationID: application,
            apiID: api,
            status: Subscription.Status(rawValue: status) ?? .blocked,
            planID: plan
        )
    }

    /// An application key from its columns (an unknown type reads as sandbox).
    private static func key(_ consumerKey: String, application: String, type: String) -> GatewayCatalog.Key {
        GatewayCatalog.Key(consumerKey: consumerKey, applicationID: application, keyType: KeyType(rawValue: type) ?? .sandbox)
    }

    private static func applications(
        _ rows: PostgresRowSequence
    ) async throws -> some AsyncSequence<(String, BusinessPlan.EventLimit?), any Error> {
        rows.decode((String, Int64?, String?, Int?).self).map { id, count, unit, unitTime in
            (id, BusinessPlan.EventLimit(eventCount: count, timeUnit: unit, unitTime: unitTime))
        }
    }

    private static func keys(_ rows: PostgresRowSequence) async throws -> some AsyncSequence<GatewayCatalog.Key, any Error> {
        rows.decode((String, String, String).self).map { consumerKey, app, type in key(consumerKey, application: app, type: type) }
    }

    private static func signingKeys(on connection: PostgresConnection, logger: Logger) async throws -> [GatewayCatalog.SigningKey] {
        var keys: [GatewayCatalog.SigningKey] = []
        for try await (kid, pem, until) in try await connection.query(
            """
            SELECT kid, public_key_pem, CASE WHEN retired_at IS NULL THEN NULL ELSE publish_until END FROM signing_keys
            WHERE retired_at IS NULL OR publish_until > now() ORDER BY kid
            """,
            logger: logger
        ).decode((String, String, Date?).self) {
            keys.append(.init(kid: kid, publicKeyPEM: pem, publishedUntil: until))
        }
        return keys
    }

    private static func connectionKeys(
        _ rows: PostgresRowSequence
    ) async throws -> some AsyncSequence<(String, GatewayCatalog.ConnectionKey), any Error> {
        rows.decode((String, String, String).self).map { id, api, hash in (id, GatewayCatalog.ConnectionKey(apiID: api, secretHash: hash)) }
    }
}
