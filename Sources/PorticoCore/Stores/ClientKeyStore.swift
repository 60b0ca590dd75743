import Foundation
import Logging
import PostgresNIO

/// Applications' OAuth2 client credentials. A secret is returned once, when made, and stored
/// only as a bcrypt hash.
package struct ClientKeyStore: Sendable {
    package let database: Database
    let hasher: SecretHasher

    package init(database: Database, hasher: SecretHasher) {
        self.database = database
        self.hasher = hasher
    }

    private var logger: Logger { database.logger }

    static let selectColumns = "SELECT id::text, application_id::text, key_type, consumer_key, secret_hash, grant_types FROM application_keys"

    static func decode(_ rows: PostgresRowSequence) async throws -> [ClientKey] {
        var keys: [ClientKey] = []
        for try await (id, app, type, consumerKey, hash, grants) in rows.decode((String, String, String, String, String, [String]).self) {
            keys.append(
                ClientKey(
                    id: id,
                    applicationID: app,
                    keyType: KeyType(rawValue: type) ?? .sandbox,
                    consumerKey: consumerKey,
                    secretHash: hash,
                    grantTypes: grants
                )
            )
        }
        return keys
    }

    /// A new random consumer key (22 base64url characters, 128 bits).
    static func newConsumerKey() -> String { Data.random(count: 16).base64URLEncoded }

    /// A new random consumer secret (43 base64url characters, 256 bits).
    static func newSecret() -> String { Data.random(count: 32).base64URLEncoded }

    /// Makes the application's credentials of `keyType`; 409 when they exist already.
    package func generate(applicationID: String, keyType: KeyType, grantTypes: [String]) async throws -> (key: ClientKey, secret: String) {
        let secret = Self.newSecret()
        let hash = try await hasher.hash(secret)
        let consumerKey = Self.newConsumerKey()
        do {
            return try await database.transaction { connection in
                let key = try await Self.decode(
                    try await connection.query(
                        """
                        INSERT INTO application_keys (application_id, key_type, consumer_key, secret_hash, grant_types)
                        VALUES (\(applicationID)::uuid, \(keyType.rawValue), \(consumerKey), \(hash), \(grantTypes))
                        RETURNING id::text, application_id::text, key_type, consumer_key, secret_hash, grant_types
                        """,
                        logger: logger
                    )
                ).first!
                try await ChangeNotifier.announce(
                    Change(entity: .applicationKey, action: .created, id: key.id, applicationId: key.applicationID),
                    on: connection,
                    logger: logger
                )
                return (key, secret)
            }
        } catch  where Database.isUniqueViolation(error) {
            throw StoreError.conflict(.keysExist(keyType))
        }
    }

    package func list(applicationID: String) async throws -> [ClientKey] {
        try await Self.decode(
            try await database.client.query(
                "\(unescaped: Self.selectColumns) WHERE application_id = \(applicationID)::uuid ORDER BY key_type",
                logger: logger
            )
        )
    }

    package func get(id: String, applicationID: String) async throws -> ClientKey? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try await Self.decode(
            try await database.client.query(
                "\(unescaped: Self.selectColumns) WHERE id = \(id)::uuid AND application_id = \(applicationID)::uuid",
                logger: logger
            )
        ).first
    }

    /// The key with this consumer key, when `secret` is its secret (constant work either way).
    package func authenticate(consumerKey: String, secret: String) async throws -> ClientKey? {
        let key = try await Self.decode(
            try await database.client.query(
                "\(unescaped: Self.selectColumns) WHERE consumer_key = \(consumerKey)",
                logger: logger
            )
        ).first
        let matches = try await hasher.verify(secret, against: key?.secretHash ?? SecretHasher.decoyHash)
        return matches ? key : nil
    }

    package func verifySecret(_ secret: String, of key: ClientKey) async throws -> Bool {
        try await hasher.verify(secret, against: key.secretHash)
    }

    /// Replaces the key's secret; returns the new one (shown once).
    package func regenerateSecret(of key: ClientKey) async throws -> String {
        let secret = Self.newSecret()
        let hash = try await hasher.hash(secret)
        try await database.transaction { connection in
            try await connection.query(
                "UPDATE application_keys SET secret_hash = \(hash), updated_at = now() WHERE id = \(key.id)::uuid",
                logger: logger
            )
            try await ChangeNotifier.announce(
                Change(entity: .applicationKey, action: .updated, id: key.id, applicationId: key.applicationID),
                on: connection,
                logger: logger
            )
        }
        return secret
    }
}
