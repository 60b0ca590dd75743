import Foundation
import Logging
import PostgresNIO

/// WebSocket APIs, their plans and lifecycle history. All SQL about APIs lives here; every change is
/// announced on `portico_changes` in the transaction that makes it.
package struct APIStore: Sendable {
    package let database: Database

    /// Serialises every change to the catalog of contexts (creates, copies, default-version moves), so
    /// that the conflict checks below see a stable picture ("portico:apis").
    static let catalogLockKey: Int64 = 0x6170_6973

    package init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    static let selectColumns = """
        SELECT a.id::text, a.name, a.description, a.context, a.version, a.provider, a.lifecycle_state,
               a.is_default_version, a.visibility, a.production_endpoint, a.sandbox_endpoint, a.backend_ca_file, a.routes, a.revision,
               a.created_at, a.updated_at,
               a.event_ceiling_count, a.event_ceiling_time_unit, a.event_ceiling_unit_time, a.max_message_bytes,
               a.idle_timeout_seconds, a.max_lifetime_seconds, a.allowed_origins, a.connect_timeout_ms,
               a.suspend_after_failures, a.suspend_initial_ms, a.suspend_max_ms, a.suspend_factor,
               COALESCE((SELECT array_agg(p.name ORDER BY ap.position)
                         FROM api_business_plans ap JOIN business_plans p ON p.id = ap.plan_id
                         WHERE ap.api_id = a.id), ARRAY[]::text[])
        FROM apis a
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [WebSocketAPI] {
        var apis: [WebSocketAPI] = []
        for try await row in rows {
            let (
                id, name, description, context, version, provider, state, isDefault, visibility, production, sandbox, caFile,
                routes, revision, created, updated, ceilingCount, ceilingUnit, ceilingUnitTime, maxMessageBytes, idleTimeout, lifetime,
                origins, connectTimeout, suspendAfter, suspendInitial, suspendMax, suspendFactor, plans
            ) = try row.decode(
                (
                    String, String, String, String, String, String, String, Bool, String, String?, String?, String?, String?, Int,
                    Date, Date,
                    Int64?, String?, Int?, Int?, Int?, Int?, [String], Int?, Int?, Int64?, Int64?, Double?, [String]
                ).self
            )
            let limits = APILimits(
                eventCeiling: BusinessPlan.EventLimit(eventCount: ceilingCount, timeUnit: ceilingUnit, unitTime: ceilingUnitTime),
                maxMessageBytes: maxMessageBytes,
                idleTimeoutSeconds: idleTimeout,
                maxLifetimeSeconds: lifetime,
                allowedOrigins: origins
            )
            let resilience = EndpointResilience(
                connectTimeoutMs: connectTimeout,
                suspendAfterFailures: suspendAfter,
                suspendInitialMs: suspendInitial,
                suspendMaxMs: suspendMax,
                suspendFactor: suspendFactor
            )
            apis.append(
                WebSocketAPI(
                    id: id,
                    name: name,
                    description: description,
                    context: context,
                    version: version,
                    provider: provider,
                    lifecycleState: LifecycleState(rawValue: state) ?? .created,
                    isDefaultVersion: isDefault,
                    visibility: WebSocketAPI.Visibility(rawValue: visibility) ?? .public,
                    plans: plans,
                    productionEndpoint: production,
                    sandboxEndpoint: sandbox,
                    backendCAFile: caFile,
                    routes: try routes.map { try JSONDecoder().decode(APIRoutes.self, from: Data($0.utf8)) },
                    limits: limits,
                    resilience: resilience,
                    revision: revision,
                    createdAt: created,
                    updatedAt: updated
                )
            )
        }
        return apis
    }

    /// The route table as stored: the REST API's JSON, methods and statuses normalized.
    static func routesJSON(_ routes: APIRoutes?) throws -> String? {
        guard let routes else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(try routes.validated()), as: UTF8.self)
    }

    // MARK: Reading

    package func get(id: String) async throws -> WebSocketAPI? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try await Self.fetch(id: id, on: nil, database: database)
    }

    static func fetch(id: String, on connection: PostgresConnection?, database: Database, forUpdate: Bool = false) async throws -> WebSocketAPI? {
        let query: PostgresQuery = "\(unescaped: selectColumns) WHERE a.id = \(id)::uuid \(unescaped: forUpdate ? "FOR UPDATE OF a" : "")"
        let rows =
            if let connection {
                try await connection.query(query, logger: database.logger)
            } else {
                try await database.client.query(query, logger: database.logger)
            }
        return try await decode(rows).first
    }

    /// A page of APIs, newest first, whose name contains `nameContains` (case-insensitive) and whose
    /// state is one of `states` (all states when nil).
    package func list(page: PageRequest, nameContains: String?, states: [LifecycleState]? = nil) async throws -> (apis: [WebSocketAPI], total: Int) {
        try await listPage(page, nameContains: nameContains, .states((states ?? LifecycleState.allCases).map(\.rawValue)))
    }

    /// What the devportal shows `viewer` (nil: anonymous): PUBLISHED and PROTOTYPED APIs (PUBLIC ones
    /// only to anonymous visitors), plus DEPRECATED ones the viewer's applications subscribe to.
    package func catalog(page: PageRequest, nameContains: String?, viewer: User?) async throws -> (apis: [WebSocketAPI], total: Int) {
        try await listPage(page, nameContains: nameContains, .catalog(viewer: viewer))
    }

    /// One API as the devportal shows it to `viewer`, or nil when it is not visible to them.
    package func catalogEntry(id: String, viewer: User?) async throws -> WebSocketAPI? {
        guard UUID(uuidString: id) != nil else { return nil }
        let query: PostgresQuery = "\(unescaped: Self.selectColumns) WHERE \(apisIn: .catalog(viewer: viewer)) AND a.id = \(id)::uuid"
        return try await Self.decode(try await database.client.query(query, logger: logger)).first
    }

    private func listPage(_ page: PageRequest, nameContains: String?, _ listing: Listing) async throws -> (apis: [WebSocketAPI], total: Int) {
        let pattern = Database.containsPattern(nameContains)
        let apis = try await Self.decode(
            try await database.client.query(
                """
                \(unescaped: Self.selectColumns) WHERE \(apisIn: listing) AND a.name ILIKE \(pattern)
                ORDER BY a.created_at DESC, a.id LIMIT \(page.limit) OFFSET \(page.offset)
                """,
                logger: logger
            )
        )
        var total = 0
        for try await count in try await database.client.query(
            "SELECT count(*)::integer FROM apis a WHERE \(apisIn: listing) AND a.name ILIKE \(pattern)",
            logger: logger
        ).decode(Int.self) {
            total = count
        }
        return (apis, total)
    }

    /// Which APIs a listing holds, as a condition on `apis a` (`appendInterpolation(apisIn:)`).
    enum Listing {
        /// The publisher's: APIs in one of these lifecycle states.
        case states([String])
        /// The devportal's catalog for a viewer (nil: anonymous).
        case catalog(viewer: User?)
    }

    package func history(id: String) async throws -> [LifecycleEvent]? {
        guard try await get(id: id) != nil else { return nil }
        var events: [LifecycleEvent] = []
        let rows = try await database.client.query(
            """
            SELECT previous_state, post_state, action, username, changed_at
            FROM api_lifecycle_history WHERE api_id = \(id)::uuid ORDER BY id
            """,
            logger: logger
        )
        for try await (previous, post, action, user, at) in rows.decode((String?, String, String, String, Date).self) {
            events.append(
                LifecycleEvent(
                    previousState: previous.flatMap(LifecycleState.init(rawValue:)),
                    postState: LifecycleState(rawValue: post) ?? .created,
                    action: action,
                    user: user,
                    at: at
                )
            )
        }
        return events
    }

    // MARK: Changing

    /// Creates an API in CREATED. 409 when its context and version, or name and version, are taken,
    /// or when its context collides with another API's; 400 for unknown plans.
    package func create(_ spec: APISpec, provider: String) async throws -> WebSocketAPI {
        try await database.transaction { connection in
            try await lockCatalog(connection)
            try await checkConflicts(for: spec, on: connection)
            let planIDs = try await BusinessPlanStore.resolve(names: spec.plans, on: connection, logger: logger)
            if spec.isDefaultVersion {
                try await clearDefaultVersion(context: spec.context, except: nil, on: connection)
            }
            var id = ""
            let rows = try await connection.query(
                """
                INSERT INTO apis (name, description, context, version, provider, is_default_version, visibility,
                                  production_endpoint, sandbox_endpoint, backend_ca_file, routes)
                VALUES (\(spec.name), \(spec.description), \(spec.context), \(spec.version), \(provider),
                        \(spec.isDefaultVersion), \(spec.visibility.rawValue), \(spec.productionEndpoint), \(spec.sandboxEndpoint),
                        \(spec.backendCAFile), \(try Self.routesJSON(spec.routes)))
                RETURNING id::text
                """,
                logger: logger
            )
            for try await value in rows.decode(String.self) { id = value }
            try await writeLimits(of: id, spec, on: connection)
            try await replacePlans(of: id, with: planIDs, on: connection)
            try await recordHistory(id: id, from: nil, to: .created, action: "Create", user: provider, on: connection)
            try await ChangeNotifier.announce(Change(entity: .api, action: .created, id: id), on: connection, logger: logger)
            return try await Self.fetch(id: id, on: connection, database: database)!
        }
    }

    /// Applies `change` to the API. `ifMatch` is the caller's `If-Match` value (412 when stale).
    package func update(id: String, ifMatch: String?, change: @Sendable (inout APISpec) throws -> Void) async throws -> WebSocketAPI {
        try await database.transaction { connection in
            try await lockCatalog(connection)
            let current = try await lockedAPI(id: id, ifMatch: ifMatch, on: connection)
            var spec = APISpec(of: current)
            try change(&spec)
            let planIDs = try await BusinessPlanStore.resolve(names: spec.plans, on: connection, logger: logger)
            if spec.isDefaultVersion && !current.isDefaultVersion {
                try await clearDefaultVersion(context: spec.context, except: id, on: connection)
            }
            try await connection.query(
                """
                UPDATE apis SET description = \(spec.description), is_default_version = \(spec.isDefaultVersion),
                    visibility = \(spec.visibility.rawValue), production_endpoint = \(spec.productionEndpoint),
                    sandbox_endpoint = \(spec.sandboxEndpoint), backend_ca_file = \(spec.backendCAFile),
                    routes = \(try Self.routesJSON(spec.routes)), revision = revision + 1, updated_at = now()
                WHERE id = \(id)::uuid
                """,
                logger: logger
            )
            try await writeLimits(of: id, spec, on: connection)
            try await replacePlans(of: id, with: planIDs, on: connection)
            try await ChangeNotifier.announce(Change(entity: .api, action: .updated, id: id), on: connection, logger: logger)
            return try await Self.fetch(id: id, on: connection, database: database)!
        }
    }

    /// Deletes the API with its plans and history; 409 while applications subscribe to it.
    package func delete(id: String, ifMatch: String?) async throws {
        try await database.transaction { connection in
            let api = try await lockedAPI(id: id, ifMatch: ifMatch, on: connection)
            let subscriptions = try await SubscriptionStore(database: database).count(apiID: id, on: connection)
            guard subscriptions == 0 else {
                throw StoreError.conflict(.apiHasSubscriptions(api: api.name, version: api.version, count: subscriptions))
            }
            try await connection.query("DELETE FROM apis WHERE id = \(id)::uuid", logger: logger)
            try await ChangeNotifier.announce(Change(entity: .api, action: .deleted, id: id), on: connection, logger: logger)
        }
    }

    /// Moves the API through its lifecycle. 400 when `action` is not allowed from its state or the API
    /// is not ready for the target state; the history records who did it.
    package func changeLifecycle(id: String, action: LifecycleAction, user: String, ifMatch: String?) async throws -> WebSocketAPI {
        try await database.transaction { connection in
            let current = try await lockedAPI(id: id, ifMatch: ifMatch, on: connection)
            guard let target = current.lifecycleState.target(of: action) else {
                throw StoreError.lifecycle(.actionNotAllowed(action, from: current.lifecycleState))
            }
            if let problem = current.readinessProblem(for: target) {
                throw StoreError.lifecycle(.notReady(for: target, problem: problem))
            }
            try await connection.query(
                """
                UPDATE apis SET lifecycle_state = \(target.rawValue), revision = revision + 1, updated_at = now()
                WHERE id = \(id)::uuid
                """,
                logger: logger
            )
            try await recordHistory(id: id, from: current.lifecycleState, to: target, action: action.rawValue, user: user, on: connection)
            try await ChangeNotifier.announce(
                Change(entity: .api, action: .lifecycle, id: id, state: target.rawValue),
                on: connection,
                logger: logger
            )
            return try await Self.fetch(id: id, on: connection, database: database)!
        }
    }

    // MARK: Pieces

    private func lockCatalog(_ connection: PostgresConnection) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.catalogLockKey))", logger: logger)
    }

    /// The API locked for this transaction; 404 when missing, 412 when `ifMatch` names another revision.
    private func lockedAPI(id: String, ifMatch: String?, on connection: PostgresConnection) async throws -> WebSocketAPI {
        guard UUID(uuidString: id) != nil,
            let current = try await Self.fetch(id: id, on: connection, database: database, forUpdate: true)
        else { throw StoreError.notFound(.api, id: id) }
        if let ifMatch, !ETag.matches(ifMatch, current.eTag) {
            throw StoreError.stale(ifMatch: ifMatch, current: current.eTag)
        }
        return current
    }

    private func checkConflicts(for spec: APISpec, on connection: PostgresConnection) async throws {
        let rows = try await connection.query(
            """
            SELECT name, context, version FROM apis
            WHERE (context = \(spec.context) AND version = \(spec.version))
               OR (name = \(spec.name) AND version = \(spec.version))
               OR (name <> \(spec.name) AND (context = \(spec.context)
                   OR starts_with(context, \(spec.context + "/")) OR starts_with(\(spec.context), context || '/')))
               OR (name = \(spec.name) AND context <> \(spec.context))
            LIMIT 1
            """,
            logger: logger
        )
        for try await (name, context, version) in rows.decode((String, String, String).self) {
            if context == spec.context && version == spec.version {
                throw StoreError.conflict(.contextAndVersionTaken(context: context, version: version, by: name))
            }
            if name == spec.name && version == spec.version {
                throw StoreError.conflict(.nameAndVersionTaken(name: name, version: version))
            }
            if name == spec.name {
                throw StoreError.conflict(.versionsElsewhere(name: name, context: context))
            }
            throw StoreError.conflict(.contextCollides(context: spec.context, other: context, name: name))
        }
    }

    private func clearDefaultVersion(context: String, except id: String?, on connection: PostgresConnection) async throws {
        let rows = try await connection.query(
            """
            UPDATE apis SET is_default_version = false, revision = revision + 1, updated_at = now()
            WHERE context = \(context) AND is_default_version AND id::text IS DISTINCT FROM \(id)
            RETURNING id::text
            """,
            logger: logger
        )
        for try await previous in rows.decode(String.self) {
            try await ChangeNotifier.announce(Change(entity: .api, action: .updated, id: previous), on: connection, logger: logger)
        }
    }

    private func writeLimits(of id: String, _ spec: APISpec, on connection: PostgresConnection) async throws {
        let limits = spec.limits
        let resilience = spec.resilience
        try await connection.query(
            """
            UPDATE apis SET event_ceiling_count = \(limits.eventCeiling?.eventCount),
                event_ceiling_time_unit = \(limits.eventCeiling?.timeUnit.rawValue), event_ceiling_unit_time = \(limits.eventCeiling?.unitTime),
                max_message_bytes = \(limits.maxMessageBytes), idle_timeout_seconds = \(limits.idleTimeoutSeconds),
                max_lifetime_seconds = \(limits.maxLifetimeSeconds), allowed_origins = \(limits.allowedOrigins),
                connect_timeout_ms = \(resilience.connectTimeoutMs), suspend_after_failures = \(resilience.suspendAfterFailures),
                suspend_initial_ms = \(resilience.suspendInitialMs), suspend_max_ms = \(resilience.suspendMaxMs),
                suspend_factor = \(resilience.suspendFactor)
            WHERE id = \(id)::uuid
            """,
            logger: logger
        )
    }

    private func replacePlans(of id: String, with planIDs: [String], on connection: PostgresConnection) async throws {
        try await connection.query("DELETE FROM api_business_plans WHERE api_id = \(id)::uuid", logger: logger)
        for (position, planID) in planIDs.enumerated() {
            try await connection.query(
                "INSERT INTO api_business_plans (api_id, plan_id, position) VALUES (\(id)::uuid, \(planID)::uuid, \(position))",
                logger: logger
            )
        }
    }

    private func recordHistory(
        id: String,
        from: LifecycleState?,
        to: LifecycleState,
        action: String,
        user: String,
        on connection: PostgresConnection
    ) async throws {
        try await connection.query(
            """
            INSERT INTO api_lifecycle_history (api_id, previous_state, post_state, action, username)
            VALUES (\(id)::uuid, \(from?.rawValue), \(to.rawValue), \(action), \(user))
            """,
            logger: logger
        )
    }
}

extension PostgresQuery.StringInterpolation {
    /// The condition on `apis a` that a listing stands for, its values bound as parameters: the rule
    /// is written once, and each query that uses it is one interpolated query.
    mutating func appendInterpolation(apisIn listing: APIStore.Listing) {
        switch listing {
        case .states(let states):
            appendLiteral("a.lifecycle_state = ANY(")
            appendInterpolation(states)
            appendLiteral(")")
        case .catalog(let viewer):
            let viewerID = viewer?.id
            appendLiteral("((a.lifecycle_state IN ('PUBLISHED', 'PROTOTYPED') AND (a.visibility = 'PUBLIC' OR ")
            appendInterpolation(viewerID)
            appendLiteral(
                "::uuid IS NOT NULL)) OR (a.lifecycle_state = 'DEPRECATED' AND EXISTS ("
                    + "SELECT 1 FROM subscriptions s JOIN applications app ON app.id = s.application_id "
                    + "WHERE s.api_id = a.id AND app.owner_id = "
            )
            appendInterpolation(viewerID)
            appendLiteral("::uuid)))")
        }
    }
}
