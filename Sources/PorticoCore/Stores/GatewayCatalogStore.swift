import Foundation
import Logging
import PostgresNIO

/// Everything a gateway serves from, read in one repeatable-read transaction so that the parts agree.
/// Gateways never query per handshake or per message: they hold this in memory and reload it
/// when `portico_changes` says something changed.
public struct GatewayCatalog: Sendable {
    public struct API: Sendable, Equatable {
        public let id: String
        public let name: String
        public let context: String
        public let version: String
        public let state: LifecycleState
        public let isDefaultVersion: Bool
        public let productionEndpoint: String?
        public let sandboxEndpoint: String?
        /// The CA bundle wss:// backends are verified against (nil: the system's roots).
        public var backendCAFile: String? = nil
    }

    public struct Subscription: Sendable, Equatable {
        public let id: String
        public let applicationID: String
        public let apiID: String
        public let status: PorticoCore.Subscription.Status
    }

    public struct Key: Sendable, Equatable {
        public let consumerKey: String
        public let applicationID: String
        public let keyType: KeyType
    }

    public struct SigningKey: Sendable {
        public let kid: String
        public let publicKeyPEM: String
    }

    public var apis: [API]
    public var subscriptions: [Subscription]
    public var applicationIDs: Set<String>
    public var keys: [Key]
    /// Revoked token ids and when the tokens expire.
    public var revokedTokens: [String: Date]
    public var signingKeys: [SigningKey]
    public var loadedAt: Date
}

public struct GatewayCatalogStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func load() async throws -> GatewayCatalog {
        let logger = database.logger
        return try await database.client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                var apis: [GatewayCatalog.API] = []
                for try await (id, name, context, version, state, isDefault, production, sandbox, caFile) in try await connection.query(
                    """
                    SELECT id::text, name, context, version, lifecycle_state, is_default_version, production_endpoint, sandbox_endpoint,
                           backend_ca_file
                    FROM apis WHERE lifecycle_state <> 'CREATED' AND lifecycle_state <> 'RETIRED'
                    """, logger: logger
                ).decode((String, String, String, String, String, Bool, String?, String?, String?).self) {
                    apis.append(.init(id: id, name: name, context: context, version: version,
                                      state: LifecycleState(rawValue: state) ?? .blocked, isDefaultVersion: isDefault,
                                      productionEndpoint: production, sandboxEndpoint: sandbox, backendCAFile: caFile))
                }
                var subscriptions: [GatewayCatalog.Subscription] = []
                for try await (id, app, api, status) in try await connection.query(
                    "SELECT id::text, application_id::text, api_id::text, status FROM subscriptions", logger: logger
                ).decode((String, String, String, String).self) {
                    subscriptions.append(.init(id: id, applicationID: app, apiID: api, status: Subscription.Status(rawValue: status) ?? .blocked))
                }
                var applications = Set<String>()
                for try await id in try await connection.query("SELECT id::text FROM applications", logger: logger).decode(String.self) {
                    applications.insert(id)
                }
                var keys: [GatewayCatalog.Key] = []
                for try await (consumerKey, app, type) in try await connection.query(
                    "SELECT consumer_key, application_id::text, key_type FROM application_keys", logger: logger
                ).decode((String, String, String).self) {
                    keys.append(.init(consumerKey: consumerKey, applicationID: app, keyType: KeyType(rawValue: type) ?? .sandbox))
                }
                var revoked: [String: Date] = [:]
                for try await (jti, expires) in try await connection.query(
                    "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > now()", logger: logger
                ).decode((String, Date).self) {
                    revoked[jti] = expires
                }
                var signingKeys: [GatewayCatalog.SigningKey] = []
                for try await (kid, pem) in try await connection.query(
                    "SELECT kid, public_key_pem FROM signing_keys WHERE retired_at IS NULL OR publish_until > now()", logger: logger
                ).decode((String, String).self) {
                    signingKeys.append(.init(kid: kid, publicKeyPEM: pem))
                }
                try await connection.query("COMMIT", logger: logger)
                return GatewayCatalog(apis: apis, subscriptions: subscriptions, applicationIDs: applications, keys: keys,
                                      revokedTokens: revoked, signingKeys: signingKeys, loadedAt: Date())
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }
}
