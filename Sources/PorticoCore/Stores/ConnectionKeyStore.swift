import Foundation
import Logging
import PostgresNIO

/// The connection keys of APIs (`ConnectionKey`): made with a secret shown once and stored as a
/// bcrypt hash, listed without secrets, deleted (revoked) at once. Every change is announced, so
/// that the gateways' catalogs follow.
package struct ConnectionKeyStore: Sendable {
    package let database: Database
    let hasher: SecretHasher

    package init(database: Database, hasher: SecretHasher) {
        self.database = database
        self.hasher = hasher
    }

    private var logger: Logger { database.logger }

    /// A new key for the API: the key and what the backend presents (`pck_<id>_<secret>`), once.
    package func create(apiID: String, createdBy: String) async throws -> (key: ConnectionKey, presented: String) {
        let secret = PresentedSecret.newSecret()
        let hash = try await hasher.hash(secret)
        return try await database.transaction { connection in
            var created: ConnectionKey?
            for try await (id, createdAt) in try await connection.query(
                """
                INSERT INTO connection_keys (api_id, secret_hash, created_by)
                VALUES (\(apiID)::uuid, \(hash), \(createdBy)) RETURNING id::text, created_at
                """,
                logger: logger
            ).decode((String, Date).self) {
                created = ConnectionKey(id: id, apiID: apiID, createdBy: createdBy, createdAt: createdAt)
            }
            guard let created else { throw StoreError.notFound(.api, id: apiID) }
            try await ChangeNotifier.announce(Change(entity: .connectionKey, action: .created, id: created.id), on: connection, logger: logger)
            return (created, PresentedSecret.spell(prefix: ConnectionKey.prefix, id: created.id, secret: secret))
        }
    }

    /// The API's keys, oldest first, without secrets.
    package func list(apiID: String) async throws -> [ConnectionKey] {
        var keys: [ConnectionKey] = []
        for try await (id, createdBy, createdAt) in try await database.client.query(
            "SELECT id::text, created_by, created_at FROM connection_keys WHERE api_id = \(apiID)::uuid ORDER BY created_at, id",
            logger: logger
        ).decode((String, String, Date).self) {
            keys.append(ConnectionKey(id: id, apiID: apiID, createdBy: createdBy, createdAt: createdAt))
        }
        return keys
    }

    /// Revokes the API's key `id`: gone for every gateway with the change notification.
    package func delete(id: String, apiID: String) async throws {
        guard UUID(uuidString: id) != nil else { throw StoreError.notFound(.connectionKey, id: id) }
        try await database.transaction { connection in
            var deleted = false
            for try await _ in try await connection.query(
                "DELETE FROM connection_keys WHERE id = \(id)::uuid AND api_id = \(apiID)::uuid RETURNING id",
                logger: logger
            ) {
                deleted = true
            }
            guard deleted else { throw StoreError.notFound(.connectionKey, id: id) }
            try await ChangeNotifier.announce(Change(entity: .connectionKey, action: .deleted, id: id), on: connection, logger: logger)
        }
    }
}
