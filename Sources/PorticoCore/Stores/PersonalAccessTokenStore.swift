import Foundation
import Logging
import PostgresNIO

/// Users' personal access tokens (`PersonalAccessToken`): made with a secret shown once and stored as a
/// bcrypt hash, listed without it, deleted (revoked) by their user.
package struct PersonalAccessTokenStore: Sendable {
    package let database: Database
    let hasher: SecretHasher

    package init(database: Database, hasher: SecretHasher) {
        self.database = database
        self.hasher = hasher
    }

    private var logger: Logger { database.logger }

    /// A new token for `user`, valid for `days`: the token and what is presented, once.
    package func create(for user: User, name: String, days: Int) async throws -> (token: PersonalAccessToken, presented: String) {
        let secret = PresentedSecret.newSecret()
        let hash = try await hasher.hash(secret)
        for try await (id, createdAt, expiresAt) in try await database.client.query(
            """
            INSERT INTO personal_access_tokens (user_id, name, secret_hash, expires_at)
            VALUES (\(user.id)::uuid, \(name), \(hash), now() + \(days) * interval '1 day')
            RETURNING id::text, created_at, expires_at
            """,
            logger: logger
        ).decode((String, Date, Date).self) {
            let token = PersonalAccessToken(id: id, name: name, createdAt: createdAt, expiresAt: expiresAt)
            return (token, PresentedSecret.spell(prefix: PersonalAccessToken.prefix, id: id, secret: secret))
        }
        throw Database.NoRowReturned(statement: "INSERT INTO personal_access_tokens")
    }

    package func list(for user: User) async throws -> [PersonalAccessToken] {
        var tokens: [PersonalAccessToken] = []
        for try await (id, name, createdAt, expiresAt) in try await database.client.query(
            "SELECT id::text, name, created_at, expires_at FROM personal_access_tokens WHERE user_id = \(user.id)::uuid ORDER BY created_at, id",
            logger: logger
        ).decode((String, String, Date, Date).self) {
            tokens.append(PersonalAccessToken(id: id, name: name, createdAt: createdAt, expiresAt: expiresAt))
        }
        return tokens
    }

    package func delete(id: String, for user: User) async throws {
        guard UUID(uuidString: id) != nil else { throw StoreError.notFound(.personalAccessToken, id: id) }
        var deleted = false
        for try await _ in try await database.client.query(
            "DELETE FROM personal_access_tokens WHERE id = \(id)::uuid AND user_id = \(user.id)::uuid RETURNING id",
            logger: logger
        ) {
            deleted = true
        }
        guard deleted else { throw StoreError.notFound(.personalAccessToken, id: id) }
    }

    /// The user a presented token belongs to, when it is one of theirs, unexpired, with this secret.
    package func user(presenting presented: String) async throws -> User? {
        guard let (id, secret) = PersonalAccessToken.parse(presented) else { return nil }
        let rows = try await database.client.query(
            """
            SELECT u.id::text, u.username, u.email, u.roles, t.secret_hash FROM personal_access_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.id = \(id)::uuid AND t.expires_at > now()
            """,
            logger: logger
        )
        var found: (User, String)?
        for try await (userID, username, email, roles, hash) in rows.decode((String, String, String?, [String], String).self) {
            found = (User(id: userID, username: username, email: email, roles: Set(roles.compactMap(Role.init(rawValue:)))), hash)
        }
        let matches = try await hasher.verify(secret, against: found?.1 ?? SecretHasher.decoyHash)
        return matches ? found?.0 : nil
    }
}
