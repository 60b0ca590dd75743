import Foundation
import Logging
import PostgresNIO

/// Users, their roles and bcrypt password hashes. bcrypt runs on the thread pool, never on an event loop.
package struct UserStore: Sendable {
    package let database: Database
    package let hasher: SecretHasher

    package init(database: Database, hasher: SecretHasher) {
        self.database = database
        self.hasher = hasher
    }

    /// The user whose credentials these are, or nil.
    package func authenticate(username: String, password: String) async throws -> User? {
        let rows = try await database.client.query(
            "SELECT id::text, username, email, roles, password_hash FROM users WHERE lower(username) = lower(\(username))",
            logger: database.logger
        )
        var found: (User, String)?
        for try await (id, name, email, roles, hash) in rows.decode((String, String, String?, [String], String).self) {
            found = (User(id: id, username: name, email: email, roles: Set(roles.compactMap(Role.init(rawValue:)))), hash)
        }
        let matches = try await hasher.verify(password, against: found?.1 ?? SecretHasher.decoyHash)
        return matches ? found?.0 : nil
    }

    /// Creates a user; 409 when the name is taken (names are compared case-insensitively).
    package func create(username: String, password: String, email: String?, roles: Set<Role>) async throws -> User {
        let hash = try await hasher.hash(password)
        let roleNames = roles.map(\.rawValue).sorted()
        do {
            let rows = try await database.client.query(
                """
                INSERT INTO users (username, password_hash, email, roles)
                VALUES (\(username), \(hash), \(email), \(roleNames)) RETURNING id::text
                """,
                logger: database.logger
            )
            for try await id in rows.decode(String.self) {
                return User(id: id, username: username, email: email, roles: roles)
            }
            // INSERT … RETURNING answers one row or throws: a 500 if PostgreSQL ever says otherwise.
            throw Database.NoRowReturned(statement: "INSERT INTO users")
        } catch  where Database.isUniqueViolation(error) {
            throw StoreError.conflict(.username(username))
        }
    }

    package func exists(username: String) async throws -> Bool {
        var found = false
        for try await _ in try await database.client.query(
            "SELECT 1 FROM users WHERE lower(username) = lower(\(username))",
            logger: database.logger
        ) {
            found = true
        }
        return found
    }

    package func list() async throws -> [User] {
        var users: [User] = []
        let rows = try await database.client.query(
            "SELECT id::text, username, email, roles FROM users ORDER BY lower(username)",
            logger: database.logger
        )
        for try await (id, name, email, roles) in rows.decode((String, String, String?, [String]).self) {
            users.append(User(id: id, username: name, email: email, roles: Set(roles.compactMap(Role.init(rawValue:)))))
        }
        return users
    }

    /// Creates the `admin` user with `password` unless it exists; true when it was created now.
    /// Safe when several processes start at once: the unique index decides.
    @discardableResult
    package func ensureAdmin(password: String) async throws -> Bool {
        let hash = try await hasher.hash(password)
        let result = try await database.client.query(
            """
            INSERT INTO users (username, password_hash, roles)
            VALUES ('admin', \(hash), ARRAY['admin']::text[])
            ON CONFLICT ((lower(username))) DO NOTHING
            RETURNING id
            """,
            logger: database.logger
        )
        var created = false
        for try await _ in result { created = true }
        return created
    }
}
