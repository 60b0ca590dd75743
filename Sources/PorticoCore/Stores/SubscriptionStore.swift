import Foundation
import Logging
import PostgresNIO

/// Subscriptions of applications to APIs. Developers see only their own applications'
/// subscriptions; providers see every subscription of an API and may block it.
package struct SubscriptionStore: Sendable {
    package let database: Database

    package init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    static let selectColumns = """
        SELECT s.id::text, s.application_id::text, a.name, u.username, s.api_id::text, api.name, api.context, api.version,
               p.name, s.status, s.created_at
        FROM subscriptions s
        JOIN applications a ON a.id = s.application_id
        JOIN users u ON u.id = a.owner_id
        JOIN apis api ON api.id = s.api_id
        JOIN business_plans p ON p.id = s.plan_id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [Subscription] {
        var subscriptions: [Subscription] = []
        for try await (id, appID, appName, owner, apiID, apiName, context, version, plan, status, created) in rows.decode(
            (String, String, String, String, String, String, String, String, String, String, Date).self
        ) {
            subscriptions.append(
                Subscription(
                    id: id,
                    applicationID: appID,
                    applicationName: appName,
                    applicationOwner: owner,
                    apiID: apiID,
                    apiName: apiName,
                    apiContext: context,
                    apiVersion: version,
                    plan: plan,
                    status: Subscription.Status(rawValue: status) ?? .blocked,
                    createdAt: created
                )
            )
        }
        return subscriptions
    }

    /// Subscribes the owner's application to an API under one of the API's plans.
    package func create(applicationID: String, apiID: String, plan: String, owner: User) async throws -> Subscription {
        guard UUID(uuidString: applicationID) != nil,
            try await ApplicationStore(database: database).get(id: applicationID, owner: owner) != nil
        else { throw StoreError.notFound(.application, id: applicationID) }
        guard let api = try await APIStore(database: database).get(id: apiID) else { throw StoreError.notFound(.api, id: apiID) }
        guard api.lifecycleState == .published || api.lifecycleState == .prototyped else {
            throw StoreError.lifecycle(.closedToSubscriptions(api: api.name, version: api.version, state: api.lifecycleState))
        }
        guard api.plans.contains(plan) else {
            throw StoreError.invalidField(
                FieldError(
                    field: "throttlingPolicy",
                    reason: "'\(plan)' is not one of the plans of '\(api.name)': \(api.plans.joined(separator: ", "))"
                )
            )
        }
        return try await database.transaction { connection in
            var id = ""
            do {
                for try await value in try await connection.query(
                    """
                    INSERT INTO subscriptions (application_id, api_id, plan_id)
                    SELECT \(applicationID)::uuid, \(apiID)::uuid, id FROM business_plans WHERE name = \(plan)
                    RETURNING id::text
                    """,
                    logger: logger
                ).decode(String.self) {
                    id = value
                }
            } catch  where Database.isUniqueViolation(error) {
                throw StoreError.conflict(.alreadySubscribed(api: api.name, version: api.version))
            }
            try await ChangeNotifier.announce(
                Change(
                    entity: .subscription,
                    action: .created,
                    id: id,
                    applicationId: applicationID,
                    state: Subscription.Status.unblocked.rawValue
                ),
                on: connection,
                logger: logger
            )
            return try await Self.decode(
                try await connection.query(
                    "\(unescaped: Self.selectColumns) WHERE s.id = \(id)::uuid",
                    logger: logger
                )
            ).first!
        }
    }

    /// The owner's subscriptions, of one application and/or to one API.
    package func list(owner: User, applicationID: String?, apiID: String?) async throws -> [Subscription] {
        if let applicationID, UUID(uuidString: applicationID) == nil { return [] }
        if let apiID, UUID(uuidString: apiID) == nil { return [] }
        return try await Self.decode(
            try await database.client.query(
                """
                \(unescaped: Self.selectColumns)
                WHERE a.owner_id = \(owner.id)::uuid
                  AND (\(applicationID)::uuid IS NULL OR s.application_id = \(applicationID)::uuid)
                  AND (\(apiID)::uuid IS NULL OR s.api_id = \(apiID)::uuid)
                ORDER BY s.created_at
                """,
                logger: logger
            )
        )
    }

    /// Every subscription to an API (for its provider).
    package func list(apiID: String) async throws -> [Subscription] {
        guard UUID(uuidString: apiID) != nil else { return [] }
        return try await Self.decode(
            try await database.client.query(
                "\(unescaped: Self.selectColumns) WHERE s.api_id = \(apiID)::uuid ORDER BY s.created_at",
                logger: logger
            )
        )
    }

    package func get(id: String, owner: User?) async throws -> Subscription? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try await Self.decode(
            try await database.client.query(
                """
                \(unescaped: Self.selectColumns)
                WHERE s.id = \(id)::uuid AND (\(owner?.id)::uuid IS NULL OR a.owner_id = \(owner?.id)::uuid)
                """,
                logger: logger
            )
        ).first
    }

    /// The application id a `RETURNING application_id::text` gave (nil: no row).
    private static func applicationID(of rows: PostgresRowSequence) async throws -> String? {
        for try await id in rows.decode(String.self) { return id }
        return nil
    }

    package func delete(id: String, owner: User) async throws {
        guard try await get(id: id, owner: owner) != nil else { throw StoreError.notFound(.subscription, id: id) }
        try await database.transaction { connection in
            let application = try await Self.applicationID(
                of: try await connection.query("DELETE FROM subscriptions WHERE id = \(id)::uuid RETURNING application_id::text", logger: logger)
            )
            try await ChangeNotifier.announce(
                Change(entity: .subscription, action: .deleted, id: id, applicationId: application),
                on: connection,
                logger: logger
            )
        }
    }

    /// Blocks or unblocks a subscription (provider side).
    package func setStatus(id: String, _ status: Subscription.Status) async throws -> Subscription {
        guard try await get(id: id, owner: nil) != nil else { throw StoreError.notFound(.subscription, id: id) }
        return try await database.transaction { connection in
            let application = try await Self.applicationID(
                of: try await connection.query(
                    """
                    UPDATE subscriptions SET status = \(status.rawValue), updated_at = now() WHERE id = \(id)::uuid
                    RETURNING application_id::text
                    """,
                    logger: logger
                )
            )
            try await ChangeNotifier.announce(
                Change(entity: .subscription, action: .updated, id: id, applicationId: application, state: status.rawValue),
                on: connection,
                logger: logger
            )
            return try await Self.decode(
                try await connection.query(
                    "\(unescaped: Self.selectColumns) WHERE s.id = \(id)::uuid",
                    logger: logger
                )
            ).first!
        }
    }

    /// How many subscriptions an API has.
    package func count(apiID: String, on connection: PostgresConnection) async throws -> Int {
        var total = 0
        for try await n in try await connection.query(
            "SELECT count(*)::integer FROM subscriptions WHERE api_id = \(apiID)::uuid",
            logger: logger
        ).decode(Int.self) {
            total = n
        }
        return total
    }
}
