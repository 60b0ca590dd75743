import Foundation
import Logging
import PorticoCore
import PostgresNIO

/// Throwaway databases on the real PostgreSQL server that `make test` starts.
///
/// `PORTICO_TEST_DATABASE_URL` names a database on that server whose user may create databases;
/// every test gets a database of its own, created empty and dropped afterwards.
package enum TestDatabase {
    package static let logger: Logger = {
        var logger = Logger(label: "portico.test")
        logger.logLevel = .error
        return logger
    }()

    package static func serverURL() throws -> DatabaseURL {
        guard let raw = ProcessInfo.processInfo.environment["PORTICO_TEST_DATABASE_URL"] else {
            throw TestSetupError("PORTICO_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
        }
        return try DatabaseURL(parsing: raw)
    }

    /// The repository's `migrations/` folder.
    package static var migrationsDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("migrations")
    }

    /// Runs `body` with the URL of a new, empty database, dropped afterwards.
    package static func withEmptyDatabase<T: Sendable>(_ body: @Sendable (DatabaseURL) async throws -> T) async throws -> T {
        let server = try serverURL()
        let name = "t_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20))
        try await onServer(server, "CREATE DATABASE \(name)")
        do {
            let result = try await body(server.with(database: name))
            try await onServer(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            return result
        } catch {
            try? await onServer(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            throw error
        }
    }

    /// Runs `body` with a running client on a new database that has every migration applied.
    package static func withMigratedDatabase<T: Sendable>(_ body: @Sendable (Database) async throws -> T) async throws -> T {
        try await withEmptyDatabase { url in
            let database = Database(url: url, poolSize: 4, logger: logger)
            return try await database.withRunningClient {
                let migrations = try Migrator.load(from: migrationsDirectory)
                try await Migrator(client: database.client, migrations: migrations, logger: logger).migrate()
                return try await body(database)
            }
        }
    }

    /// The last change in `url`'s change log (0: none).
    package static func lastChange(_ url: DatabaseURL) async throws -> Int {
        let database = Database(url: url, poolSize: 1, logger: logger)
        return try await database.withRunningClient {
            var last = 0
            for try await seq in try await database.client.query("SELECT coalesce(max(seq), 0) FROM changes", logger: logger)
                .decode(Int64.self)
            {
                last = Int(seq)
            }
            return last
        }
    }

    /// Announces a change on `url`'s database (`NOTIFY portico_changes`), as every change does: a
    /// gateway listening there loads a new snapshot.
    package static func notifyChanges(_ url: DatabaseURL) async throws {
        let database = Database(url: url, poolSize: 1, logger: logger)
        try await database.withRunningClient {
            _ = try await database.client.query("SELECT pg_notify(\(ChangeNotifier.channel), 'test')", logger: logger)
        }
    }

    /// Runs one statement on the server's maintenance database, with a client of its own (a
    /// `PostgresClient` runs once).
    private static func onServer(_ server: DatabaseURL, _ sql: String) async throws {
        let admin = Database(url: server, poolSize: 1, logger: logger)
        try await admin.withRunningClient {
            _ = try await admin.client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }
}

package struct TestSetupError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Runs `body`, failing with a clear error when it takes longer than `seconds`: a test that waits
/// for something that never comes fails instead of hanging the run.
package func withTimeout<T: Sendable>(seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await pause(for: .seconds(seconds))  // cancelled once `body` is done: no error then
            throw TestSetupError("timed out after \(seconds) s waiting for \(what)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
