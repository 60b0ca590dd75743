import Foundation
import Logging
import PostgresNIO

/// Applications and application plans. Every read and change is scoped to the owner: someone
/// else's application does not exist for you (nil / 404).
package struct ApplicationStore: Sendable {
    package let database: Database
    let tokens: TokenStore

    package init(database: Database) {
        self.database = database
        self.tokens = TokenStore(database: database)
    }

    private var logger: Logger { database.logger }

    static let selectColumns = """
        SELECT a.id::text, a.name, a.description, a.owner_id::text, u.username, p.name,
               (SELECT count(*) FROM subscriptions s WHERE s.application_id = a.id)::integer,
               a.created_at, a.updated_at
        FROM applications a JOIN users u ON u.id = a.owner_id JOIN application_plans p ON p.id = a.plan_id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [ClientApplication] {
        var applications: [ClientApplication] = []
        for try await (id, name, description, ownerID, owner, plan, subscriptions, created, updated) in rows.decode(
            (String, String, String, String, String, String, Int, Date, Date).self
        ) {
            applications.append(
                ClientApplication(
                    id: id,
                    name: name,
                    description: description,
                    ownerID: ownerID,
                    owner: owner,
                    plan: plan,
                    subscriptionCount: subscriptions,
                    createdAt: created,
                    updatedAt: updated
                )
            )
        }
        return applications
    }

    package func plans() async throws -> [ApplicationPlan] {
        var plans: [ApplicationPlan] = []
        let rows = try await database.client.query(
            """
            SELECT id::text, name, display_name, description, event_count, time_unit, unit_time
            FROM application_plans ORDER BY event_count DESC NULLS FIRST, name
            """,
            logger: logger
        )
        for try await (id, name, display, description, count, unit, unitTime) in rows.decode(
            (String, String, String, String, Int64?, String?, Int?).self
        ) {
            let limit = BusinessPlan.EventLimit(eventCount: count, timeUnit: unit, unitTime: unitTime)
            plans.append(ApplicationPlan(id: id, name: name, displayName: display, description: description, eventLimit: limit))
        }
        return plans
    }

    package func get(id: String, owner: User) async throws -> ClientApplication? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try await Self.decode(
            try await database.client.query(
                "\(unescaped: Self.selectColumns) WHERE a.id = \(id)::uuid AND a.owner_id = \(owner.id)::uuid",
                logger: logger
            )
        ).first
    }

    /// The application a client key belongs to, whoever owns it.
    package func owned(by key: ClientKey) async throws -> ClientApplication? {
        try await Self.decode(
            try await database.client.query(
                "\(unescaped: Self.selectColumns) WHERE a.id = \(key.applicationID)::uuid",
                logger: logger
            )
        ).first
    }

    package func list(owner: User, page: PageRequest, nameContains: String?) async throws -> (applications: [ClientApplication], total: Int) {
        let pattern = Database.containsPattern(nameContains)
        let applications = try await Self.decode(
            try await database.client.query(
                """
                \(unescaped: Self.selectColumns) WHERE a.owner_id = \(owner.id)::uuid AND a.name ILIKE \(pattern)
                ORDER BY lower(a.name) LIMIT \(page.limit) OFFSET \(page.offset)
                """,
                logger: logger
            )
        )
        var total = 0
        for try await count in try await database.client.query(
            "SELECT count(*)::integer FROM applications a WHERE a.owner_id = \(owner.id)::uuid AND a.name ILIKE \(pattern)",
            logger: logger
        ).decode(Int.self) {
            total = count
        }
        return (applications, total)
    }

    package func create(name: String, description: String, plan: String, owner: User) async throws -> ClientApplication {
        try await database.transaction { connection in
            let planID = try await Self.planID(plan, on: connection, logger: logger)
            var id = ""
            do {
                for try await value in try await connection.query(
                    """
                    INSERT INTO applications (name, owner_id, description, plan_id)
                    VALUES (\(name), \(owner.id)::uuid, \(description), \(planID)::uuid) RETURNING id::text
                    """,
                    logger: logger
                ).decode(String.self) {
                    id = value
                }
            } catch  where Database.isUniqueViolation(error) {
                throw StoreError.conflict(.applicationName(name))
            }
            try await ChangeNotifier.announce(Change(entity: .application, action: .created, id: id), on: connection, logger: logger)
            return try await Self.decode(
                try await connection.query(
                    "\(unescaped: Self.selectColumns) WHERE a.id = \(id)::uuid",
                    logger: logger
                )
            ).first!
        }
    }

    /// Changes name, description and plan; nil leaves a field as it is.
    package func update(id: String, owner: User, name: String?, description: String?, plan: String?) async throws -> ClientApplication {
        guard try await get(id: id, owner: owner) != nil else { throw StoreError.notFound(.application, id: id) }
        return try await database.transaction { connection in
            let planID = try await plan.asyncMap { try await Self.planID($0, on: connection, logger: logger) }
            do {
                try await connection.query(
                    """
                    UPDATE applications SET name = COALESCE(\(name), name), description = COALESCE(\(description), description),
                        plan_id = COALESCE(\(planID)::uuid, plan_id), updated_at = now()
                    WHERE id = \(id)::uuid
                    """,
                    logger: logger
                )
            } catch  where Database.isUniqueViolation(error) {
                throw StoreError.conflict(.applicationName(name ?? ""))
            }
            try await ChangeNotifier.announce(Change(entity: .application, action: .updated, id: id), on: connection, logger: logger)
            return try await Self.decode(
                try await connection.query(
                    "\(unescaped: Self.selectColumns) WHERE a.id = \(id)::uuid",
                    logger: logger
                )
            ).first!
        }
    }

    /// Deletes the application with its subscriptions and keys, and revokes its live tokens.
    package func delete(id: String, owner: User) async throws {
        guard try await get(id: id, owner: owner) != nil else { throw StoreError.notFound(.application, id: id) }
        try await database.transaction { connection in
            try await tokens.revokeAll(applicationID: id, on: connection)
            try await connection.query("DELETE FROM applications WHERE id = \(id)::uuid", logger: logger)
            try await ChangeNotifier.announce(Change(entity: .application, action: .deleted, id: id), on: connection, logger: logger)
        }
    }

    static func planID(_ name: String, on connection: PostgresConnection, logger: Logger) async throws -> String {
        var all: [(String, String)] = []
        for try await row in try await connection.query(
            "SELECT id::text, name FROM application_plans ORDER BY name",
            logger: logger
        ).decode((String, String).self) {
            all.append(row)
        }
        guard let match = all.first(where: { $0.1 == name }) else {
            throw StoreError.invalidField(
                FieldError(
                    field: "throttlingPolicy",
                    reason: "'\(name)' is not an application plan; available: \(all.map(\.1).joined(separator: ", "))"
                )
            )
        }
        return match.0
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
