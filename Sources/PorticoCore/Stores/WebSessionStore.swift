import Crypto
import Foundation
import Logging
import PostgresNIO

/// Browser sessions in PostgreSQL (`web_sessions`), so that they survive a restart and every
/// replica of a portal sees them: begun at sign-in, found by the cookie's value (stored as its
/// SHA-256), ended by sign-out, idle time or absolute expiry.
package struct WebSessionStore: Sendable {
    package let database: Database
    let idleSeconds: Int
    let maxSeconds: Int
    /// A session's `last_seen_at` is written at most this often (not on every page).
    static let touchInterval = 60

    package init(database: Database, idleSeconds: Int, maxSeconds: Int) {
        self.database = database
        self.idleSeconds = idleSeconds
        self.maxSeconds = maxSeconds
    }

    private var logger: Logger { database.logger }

    static func hash(_ cookie: String) -> Data {
        Data(SHA256.hash(data: Data(cookie.utf8)))
    }

    /// A new session for `user`: the session and the cookie value that names it, given once.
    package func begin(for user: User, portal: WebSession.Portal) async throws -> (session: WebSession, cookie: String) {
        let cookie = PresentedSecret.newSecret()
        let csrf = PresentedSecret.newSecret()
        try await database.client.query(
            """
            INSERT INTO web_sessions (id_hash, portal, user_id, csrf_token, expires_at)
            VALUES (\(Self.hash(cookie)), \(portal.rawValue), \(user.id)::uuid, \(csrf), now() + \(maxSeconds) * interval '1 second')
            """,
            logger: logger
        )
        // Expired sessions go as new ones come: the table holds live sessions and a few stale ones.
        try await database.client.query("DELETE FROM web_sessions WHERE expires_at < now() - interval '1 day'", logger: logger)
        return (WebSession(portal: portal, user: user, csrfToken: csrf), cookie)
    }

    /// The live session this cookie names on `portal`, with its user as the users table has them now
    /// (a role taken away applies at once); nil when it is unknown, idle too long or expired.
    package func find(cookie: String, portal: WebSession.Portal) async throws -> WebSession? {
        guard cookie.utf8.count <= 128 else { return nil }
        let rows = try await database.client.query(
            """
            SELECT u.id::text, u.username, u.email, u.roles, s.csrf_token,
                   s.last_seen_at < now() - \(Self.touchInterval) * interval '1 second'
            FROM web_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id_hash = \(Self.hash(cookie)) AND s.portal = \(portal.rawValue)
              AND s.expires_at > now() AND s.last_seen_at > now() - \(idleSeconds) * interval '1 second'
            """,
            logger: logger
        )
        for try await (id, username, email, roles, csrf, stale) in rows.decode((String, String, String?, [String], String, Bool).self) {
            if stale {
                try await database.client.query(
                    "UPDATE web_sessions SET last_seen_at = now() WHERE id_hash = \(Self.hash(cookie))",
                    logger: logger
                )
            }
            let user = User(id: id, username: username, email: email, roles: Set(roles.compactMap(Role.init(rawValue:))))
            return WebSession(portal: portal, user: user, csrfToken: csrf)
        }
        return nil
    }

    /// Ends the session this cookie names (sign-out); unknown cookies are ignored.
    package func end(cookie: String) async throws {
        try await database.client.query("DELETE FROM web_sessions WHERE id_hash = \(Self.hash(cookie))", logger: logger)
    }
}
