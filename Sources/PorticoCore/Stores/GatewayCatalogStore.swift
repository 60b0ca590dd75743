import Foundation
import Logging
import PostgresNIO

package struct GatewayCatalogStore: Sendable {
    package let database: Database

    package init(database: Database) {
        self.database = database
    }

    package func load() async throws -> GatewayCatalog {
        let logger = database.logger
        // Taken before the read transaction starts: every change committed before this instant is in the catalog.
        let startedAt = Date()
        return try await database.client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                var apis: [GatewayCatalog.API] = []
                for api in try await APIStore.decode(
                    try await connection.query(
                        "\(unescaped: APIStore.selectColumns) WHERE a.lifecycle_state <> 'CREATED' AND a.lifecycle_state <> 'RETIRED'",
                        logger: logger
                    )
                ) {
                    var limits = api.limits
                    limits.allowedOrigins = limits.allowedOrigins.compactMap(APILimits.normalizedOrigin)
                    apis.append(
                        .init(
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
                    )
                }
                var subscriptions: [GatewayCatalog.Subscription] = []
                for try await (id, app, api, status, plan) in try await connection.query(
                    "SELECT id::text, application_id::text, api_id::text, status, plan_id::text FROM subscriptions",
                    logger: logger
                ).decode((String, String, String, String, String).self) {
                    subscriptions.append(
                        .init(
                            id: id,
                            applicationID: app,
                            apiID: api,
                            status: Subscription.Status(rawValue: status) ?? .blocked,
                            planID: plan
                        )
                    )
                }
                var plans: [String: BusinessPlan] = [:]
                for plan in try await BusinessPlanStore.decode(
                    try await connection.query(
                        "\(unescaped: BusinessPlanStore.selectColumns)",
                        logger: logger
                    )
                ) {
                    plans[plan.id] = plan
                }
                var applications = Set<String>()
                var applicationLimits: [String: BusinessPlan.EventLimit] = [:]
                for try await (id, count, unit, unitTime) in try await connection.query(
                    """
                    SELECT a.id::text, p.event_count, p.time_unit, p.unit_time
                    FROM applications a JOIN application_plans p ON p.id = a.plan_id
                    """,
                    logger: logger
                ).decode((String, Int64?, String?, Int?).self) {
                    applications.insert(id)
                    applicationLimits[id] = BusinessPlan.EventLimit(eventCount: count, timeUnit: unit, unitTime: unitTime)
                }
                var keys: [GatewayCatalog.Key] = []
                for try await (consumerKey, app, type) in try await connection.query(
                    "SELECT consumer_key, application_id::text, key_type FROM application_keys",
                    logger: logger
                ).decode((String, String, String).self) {
                    keys.append(.init(consumerKey: consumerKey, applicationID: app, keyType: KeyType(rawValue: type) ?? .sandbox))
                }
                var revoked: [String: Date] = [:]
                for try await (jti, expires) in try await connection.query(
                    "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > now()",
                    logger: logger
                ).decode((String, Date).self) {
                    revoked[jti] = expires
                }
                var signingKeys: [GatewayCatalog.SigningKey] = []
                for try await (kid, pem) in try await connection.query(
                    "SELECT kid, public_key_pem FROM signing_keys WHERE retired_at IS NULL OR publish_until > now()",
                    logger: logger
                ).decode((String, String).self) {
                    signingKeys.append(.init(kid: kid, publicKeyPEM: pem))
                }
                var connectionKeys: [String: GatewayCatalog.ConnectionKey] = [:]
                for try await (id, api, hash) in try await connection.query(
                    "SELECT id::text, api_id::text, secret_hash FROM connection_keys",
                    logger: logger
                ).decode((String, String, String).self) {
                    connectionKeys[id] = .init(apiID: api, secretHash: hash)
                }
                try await connection.query("COMMIT", logger: logger)
                return GatewayCatalog(
                    apis: apis,
                    subscriptions: subscriptions,
                    applicationIDs: applications,
                    plans: plans,
                    applicationLimits: applicationLimits,
                    keys: keys,
                    revokedTokens: revoked,
                    signingKeys: signingKeys,
                    connectionKeys: connectionKeys,
                    loadedAt: startedAt
                )
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }
}
