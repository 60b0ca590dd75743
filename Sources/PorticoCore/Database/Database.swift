import Logging
import PostgresNIO

/// The shared PostgreSQL client with the logger the stores use. `client` is a `Service`: run it in
/// the service group of the process (or in a task in tests) before querying.
package struct Database: Sendable {
    package let client: PostgresClient
    package let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    package init(url: DatabaseURL, poolSize: Int = 10, logger: Logger) {
        self.init(
            client: PostgresClient(configuration: url.clientConfiguration(poolSize: poolSize), backgroundLogger: logger),
            logger: logger
        )
    }

    /// Runs `body` in one transaction; the body's error is rethrown as it was (not wrapped).
    package func transaction<Result: Sendable>(
        _ body: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { try await body($0) }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.commitError ?? error.beginError ?? error
        }
    }

    /// Whether PostgreSQL answers a trivial query now.
    package func isReachable() async -> Bool {
        do {
            _ = try await client.query("SELECT 1", logger: logger)
            return true
        } catch {
            return false
        }
    }

    /// Waits until PostgreSQL answers, for at most `timeout`; then fails with an error that names the
    /// server. Start-up calls this so that a service started before its database waits a little and
    /// a wrong `DATABASE_URL` ends in one clear line instead of a hang.
    package func waitUntilReachable(timeout: Duration, url: DatabaseURL) async throws {
        let client = self.client
        let logger = self.logger
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                _ = try await client.query("SELECT 1", logger: logger)
                return true
            }
            group.addTask {
                try await pause(for: timeout)
                return false
            }
            defer { group.cancelAll() }
            guard try await group.next() == true else {
                throw DatabaseUnavailable(url: url.redacted, timeout: timeout)
            }
        }
    }

    /// The server's own message for a PostgreSQL error, or the error's description.
    package static func describe(_ error: any Error) -> String {
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] {
                return message
            }
            return "\(psql.code)"
        }
        return "\(error)"
    }

    /// The SQLSTATE of a PostgreSQL error, when the server sent one.
    package static func sqlState(of error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// The constraint a PostgreSQL error names, when the server sent one.
    package static func constraint(of error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.constraintName]
    }

    /// An ILIKE pattern matching text that contains `fragment` literally (its `%`, `_` and `\\`
    /// escaped).
    package static func containsPattern(_ fragment: String?) -> String {
        let escaped = (fragment ?? "").replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
        return "%\(escaped)%"
    }

    /// True when `error` is a unique-constraint violation (SQLSTATE 23505).
    /// A table or column the query names is not there: the schema is not migrated (yet).
    package static func isMissingSchema(_ error: any Error) -> Bool {
        ["42P01", "42703", "3F000"].contains(sqlState(of: error))
    }

    package static func isUniqueViolation(_ error: any Error) -> Bool {
        sqlState(of: error) == "23505"
    }
}

/// PostgreSQL did not answer at start-up.
package struct DatabaseUnavailable: Error, CustomStringConvertible {
    package let url: String
    package let timeout: Duration
    package var description: String {
        "PostgreSQL at \(url) did not answer within \(timeout.components.seconds) s (DATABASE_URL; the log above shows why)"
    }
}

extension Database {
    /// Runs the client for as long as `body` runs: for commands and tests that are not a service group.
    package func withRunningClient<Result: Sendable>(_ body: @Sendable () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let client = self.client
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }
}

extension Database {
    /// A statement that always answers a row (`INSERT … RETURNING`) answered none: a 500 (logged
    /// under the request id), never a made-up value.
    package struct NoRowReturned: Error, CustomStringConvertible {
        package let statement: String
        package var description: String { "\(statement) returned no row" }
    }
}
