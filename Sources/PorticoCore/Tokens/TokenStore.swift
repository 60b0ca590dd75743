import Foundation
import Logging
import PostgresNIO

/// What Portico remembers of each access token it issued (never the token itself), and which
/// token ids are revoked. Revocations are announced on `portico_changes` for the gateways.
package struct TokenStore: Sendable {
    package let database: Database

    package init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    package struct Record: Sendable, Equatable {
        package let jti: String
        package let applicationID: String
        package let consumerKey: String
        package let keyType: String
        package let subject: String
        package let scope: String
        package let issuedAt: Date
        package let expiresAt: Date
        package let revoked: Bool
    }

    package func record(_ claims: AccessTokenClaims, keyID: String) async throws {
        try await database.client.query(
            """
            INSERT INTO access_tokens (jti, application_id, key_id, consumer_key, key_type, subject, scope, issued_at, expires_at)
            VALUES (\(claims.jti.value), \(claims.application.id)::uuid, \(keyID)::uuid, \(claims.client_id), \(claims.keytype),
                    \(claims.sub.value), \(claims.scope), \(claims.iat.value), \(claims.exp.value))
            """,
            logger: logger
        )
    }

    package func find(jti: String) async throws -> Record? {
        let rows = try await database.client.query(
            """
            SELECT t.jti, t.application_id::text, t.consumer_key, t.key_type, t.subject, t.scope, t.issued_at, t.expires_at,
                   EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = t.jti)
            FROM access_tokens t WHERE t.jti = \(jti)
            """,
            logger: logger
        )
        for try await (jti, app, consumerKey, keyType, subject, scope, issued, expires, revoked) in rows.decode(
            (String, String, String, String, String, String, Date, Date, Bool).self
        ) {
            return Record(
                jti: jti,
                applicationID: app,
                consumerKey: consumerKey,
                keyType: keyType,
                subject: subject,
                scope: scope,
                issuedAt: issued,
                expiresAt: expires,
                revoked: revoked
            )
        }
        return nil
    }

    /// Revokes one token id until its expiry; true when it was live and is revoked now.
    @discardableResult
    package func revoke(jti: String) async throws -> Bool {
        try await database.transaction { connection in
            try await revoke(where: "jti = $1", jti, on: connection) > 0
        }
    }

    /// Revokes every live token of an application (used when the application is deleted).
    @discardableResult
    package func revokeAll(applicationID: String, on connection: PostgresConnection) async throws -> Int {
        try await revoke(where: "application_id = $1::uuid", applicationID, on: connection)
    }

    private func revoke(where condition: String, _ value: String, on connection: PostgresConnection) async throws -> Int {
        var binds = PostgresBindings()
        binds.append(value)
        let query = PostgresQuery(
            unsafeSQL: """
                INSERT INTO revoked_tokens (jti, expires_at)
                SELECT jti, expires_at FROM access_tokens WHERE \(condition) AND expires_at > now()
                ON CONFLICT (jti) DO NOTHING
                RETURNING jti, expires_at
                """,
            binds: binds
        )
        var count = 0
        for try await (jti, expires) in try await connection.query(query, logger: logger).decode((String, Date).self) {
            try await ChangeNotifier.announce(
                Change(entity: .token, action: .revoked, id: jti, expiresAt: ISO8601DateFormatter().string(from: expires)),
                on: connection,
                logger: logger
            )
            count += 1
        }
        return count
    }

    /// Forgets tokens and revocations that have expired.
    package func pruneExpired() async throws {
        try await database.client.query("DELETE FROM revoked_tokens WHERE expires_at < now()", logger: logger)
        try await database.client.query("DELETE FROM access_tokens WHERE expires_at < now() - interval '1 day'", logger: logger)
    }
}
