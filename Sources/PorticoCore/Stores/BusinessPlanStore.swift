import Foundation
import Logging
import PostgresNIO

/// Subscription business plans. A plan that an API offers cannot be deleted.
package struct BusinessPlanStore: Sendable {
    package let database: Database

    package init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    static let selectColumns = """
        SELECT id::text, name, display_name, description, event_count, time_unit, unit_time, max_connections,
               max_message_bytes, excess_action, counted_directions
        FROM business_plans
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [BusinessPlan] {
        var plans: [BusinessPlan] = []
        for try await (id, name, displayName, description, count, unit, unitTime, maxConnections, maxMessageBytes, action, directions)
            in rows.decode((String, String, String, String, Int64?, String?, Int?, Int, Int?, String, String).self)
        {
            let limit = BusinessPlan.EventLimit(eventCount: count, timeUnit: unit, unitTime: unitTime)
            plans.append(
                BusinessPlan(
                    id: id,
                    name: name,
                    displayName: displayName,
                    description: description,
                    eventLimit: limit,
                    maxConnections: maxConnections,
                    maxMessageBytes: maxMessageBytes,
                    excessAction: BusinessPlan.ExcessAction(rawValue: action) ?? .close,
                    countedDirections: BusinessPlan.CountedDirections(rawValue: directions) ?? .both
                )
            )
        }
        return plans
    }

    package func list() async throws -> [BusinessPlan] {
        try await Self.decode(
            try await database.client.query(
                "\(unescaped: Self.selectColumns) ORDER BY event_count DESC NULLS FIRST, name",
                logger: logger
            )
        )
    }

    package func get(id: String) async throws -> BusinessPlan? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try await Self.decode(
            try await database.client.query(
                "\(unescaped: Self.selectColumns) WHERE id = \(id)::uuid",
                logger: logger
            )
        ).first
    }

    package func create(_ plan: BusinessPlan) async throws -> BusinessPlan {
        do {
            return try await database.transaction { connection in
                let rows = try await connection.query(
                    """
                    INSERT INTO business_plans (name, display_name, description, event_count, time_unit, unit_time, max_connections,
                                                max_message_bytes, excess_action, counted_directions)
                    VALUES (\(plan.name), \(plan.displayName), \(plan.description), \(plan.eventLimit?.eventCount),
                            \(plan.eventLimit?.timeUnit.rawValue), \(plan.eventLimit?.unitTime), \(plan.maxConnections),
                            \(plan.maxMessageBytes), \(plan.excessAction.rawValue), \(plan.countedDirections.rawValue))
                    RETURNING id::text
                    """,
                    logger: logger
                )
                var created = plan
                for try await id in rows.decode(String.self) { created.id = id }
                try await ChangeNotifier.announce(
                    Change(entity: .businessPlan, action: .created, id: created.id),
                    on: connection,
                    logger: logger
                )
                return created
            }
        } catch  where Database.isUniqueViolation(error) {
            throw StoreError.conflict(.planName(plan.name))
        }
    }

    /// Replaces the plan's display name, description and limits; its name never changes.
    package func update(_ plan: BusinessPlan) async throws -> BusinessPlan {
        try await database.transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE business_plans SET display_name = \(plan.displayName), description = \(plan.description),
                    event_count = \(plan.eventLimit?.eventCount), time_unit = \(plan.eventLimit?.timeUnit.rawValue),
                    unit_time = \(plan.eventLimit?.unitTime), max_connections = \(plan.maxConnections),
                    max_message_bytes = \(plan.maxMessageBytes), excess_action = \(plan.excessAction.rawValue),
                    counted_directions = \(plan.countedDirections.rawValue), updated_at = now()
                WHERE id = \(plan.id)::uuid RETURNING id
                """,
                logger: logger
            )
            var found = false
            for try await _ in rows { found = true }
            guard found else { throw StoreError.notFound(.businessPlan, id: plan.id) }
            try await ChangeNotifier.announce(
                Change(entity: .businessPlan, action: .updated, id: plan.id),
                on: connection,
                logger: logger
            )
            return plan
        }
    }

    /// Deletes the plan; 409 naming the APIs that still offer it.
    package func delete(id: String) async throws {
        guard let plan = try await get(id: id) else { throw StoreError.notFound(.businessPlan, id: id) }
        try await database.transaction { connection in
            var users: [String] = []
            let rows = try await connection.query(
                """
                SELECT a.name || ' ' || a.version FROM api_business_plans ap JOIN apis a ON a.id = ap.api_id
                WHERE ap.plan_id = \(id)::uuid ORDER BY a.name, a.version
                """,
                logger: logger
            )
            for try await name in rows.decode(String.self) { users.append(name) }
            guard users.isEmpty else {
                throw StoreError.conflict(.planInUse(plan: plan.name, by: users))
            }
            try await connection.query("DELETE FROM business_plans WHERE id = \(id)::uuid", logger: logger)
            try await ChangeNotifier.announce(Change(entity: .businessPlan, action: .deleted, id: id), on: connection, logger: logger)
        }
    }

    /// The ids of the named plans, in the order given (duplicates dropped); 400 naming unknown ones.
    static func resolve(names: [String], on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        var known: [String: String] = [:]
        var all: [String] = []
        for try await (id, name) in try await connection.query(
            "SELECT id::text, name FROM business_plans ORDER BY name",
            logger: logger
        ).decode((String, String).self) {
            known[name] = id
            all.append(name)
        }
        var seen = Set<String>()
        let unique = names.filter { seen.insert($0).inserted }
        let unknown = unique.filter { known[$0] == nil }
        guard unknown.isEmpty else {
            throw StoreError.invalidField(
                FieldError(
                    field: "policies",
                    reason: "Unknown business plan(s): \(unknown.joined(separator: ", ")); available: \(all.joined(separator: ", "))"
                )
            )
        }
        return unique.map { known[$0]! }
    }
}
