import Crypto
import Foundation
import Logging
import PostgresNIO

/// One forward-only SQL file from `migrations/`, named `NNNN_description.sql`.
package struct Migration: Sendable, Equatable {
    package let version: Int
    package let name: String
    package let sql: String
    package let checksum: String

    package init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

package enum MigrationError: Error, CustomStringConvertible, Equatable {
    case directoryNotFound([String])
    case badFileName(String)
    case duplicateVersion(Int)
    case changedAfterApplied(name: String, recorded: String, now: String)
    case unknownAppliedVersion(Int, String)
    case failed(name: String, reason: String)

    package var description: String {
        switch self {
        case .directoryNotFound(let paths):
            return "no migrations directory found (looked in \(paths.joined(separator: ", "))); set PORTICO_MIGRATIONS_DIR"
        case .badFileName(let name):
            return "migration file '\(name)' is not named NNNN_description.sql"
        case .duplicateVersion(let version):
            return "two migration files share the version \(version)"
        case .changedAfterApplied(let name, let recorded, let now):
            return "migration \(name) was changed after it was applied (recorded checksum \(recorded), file now \(now)); "
                + "add a new migration instead of editing an applied one"
        case .unknownAppliedVersion(let version, let name):
            return "the database has migration \(version) (\(name)) applied, which this build does not have; "
                + "run a build at least as new as the database"
        case .failed(let name, let reason):
            return "migration \(name) failed and was rolled back: \(reason)"
        }
    }
}

/// Applies `migrations/*.sql` in order, each in its own transaction, recorded with its checksum in
/// `schema_migrations`. A PostgreSQL advisory lock serialises concurrent runs across processes.
package struct Migrator: Sendable {
    /// The advisory lock key every Portico process agrees on ("portico" in ASCII).
    static let advisoryLockKey: Int64 = 0x706f_7274_6963_6f

    package let client: PostgresClient
    package let migrations: [Migration]
    package let logger: Logger

    package init(client: PostgresClient, migrations: [Migration], logger: Logger) {
        self.client = client
        self.migrations = migrations
        self.logger = logger
    }

    /// Reads every `NNNN_*.sql` file in `directory`, ordered by version.
    package static func load(from directory: URL) throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
        var migrations: [Migration] = []
        for name in names {
            let prefix = name.prefix { $0.isNumber }
            guard prefix.count >= 4, name.dropFirst(prefix.count).first == "_", let version = Int(prefix) else {
                throw MigrationError.badFileName(name)
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            migrations.append(Migration(version: version, name: name, sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw MigrationError.duplicateVersion(a.version)
        }
        return migrations
    }

    /// Finds the migrations directory: `PORTICO_MIGRATIONS_DIR`, else `./migrations`, else a
    /// `migrations` or `share/portico/migrations` folder above the running executable.
    package static func locateDirectory(configured: String?, executable: String = CommandLine.arguments[0]) throws -> URL {
        if let configured {
            return URL(fileURLWithPath: configured, isDirectory: true)
        }
        var candidates = [FileManager.default.currentDirectoryPath + "/migrations"]
        var directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent("migrations").path)
            candidates.append(directory.appendingPathComponent("share/portico/migrations").path)
            directory.deleteLastPathComponent()
        }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate + "/0001_init.sql") {
            return URL(fileURLWithPath: candidate, isDirectory: true)
        }
        throw MigrationError.directoryNotFound(candidates)
    }

    /// Applies every pending migration and returns the names of those it applied.
    @discardableResult
    package func migrate() async throws -> [String] {
        try await client.withConnection { connection in
            _ = try await connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))", logger: logger)
            do {
                let applied = try await applyPending(on: connection)
                _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                throw error
            }
        }
    }

    /// The names of the migrations this build has and the database does not, without applying
    /// them: a service that leaves migrating to a job (`PORTICO_MIGRATE_AT_START=false`) waits
    /// until this is empty. A database ahead of the build, or a migration changed after it was
    /// applied, is an error, as it is for `migrate()`.
    package func pending() async throws -> [String] {
        try await client.withConnection { connection in
            var exists = false
            let rows = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
            for try await found in rows.decode(Bool.self) { exists = found }
            guard exists else { return migrations.map(\.name) }
            let recorded = try await checkedRecord(on: connection)
            return migrations.filter { recorded[$0.version] == nil }.map(\.name)
        }
    }

    /// What `schema_migrations` records, checked against this build's migrations.
    private func checkedRecord(on connection: PostgresConnection) async throws -> [Int: (name: String, checksum: String)] {
        var recorded: [Int: (name: String, checksum: String)] = [:]
        for try await (version, name, checksum) in try await connection.query(
            "SELECT version, name, checksum FROM schema_migrations",
            logger: logger
        ).decode((Int, String, String).self) {
            recorded[version] = (name, checksum)
        }
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, entry) in recorded.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[version] else {
                throw MigrationError.unknownAppliedVersion(version, entry.name)
            }
            if migration.checksum != entry.checksum {
                throw MigrationError.changedAfterApplied(name: migration.name, recorded: entry.checksum, now: migration.checksum)
            }
        }
        return recorded
    }

    private func applyPending(on connection: PostgresConnection) async throws -> [String] {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        let recorded = try await checkedRecord(on: connection)
        var applied: [String] = []
        for migration in migrations where recorded[migration.version] == nil {
            logger.info("applying migration", metadata: ["migration": "\(migration.name)"])
            do {
                try await connection.withTransaction(logger: logger) { transaction in
                    for statement in SQLScript.statements(in: migration.sql) {
                        try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await transaction.query(
                        """
                        INSERT INTO schema_migrations (version, name, checksum)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                        """,
                        logger: logger
                    )
                }
            } catch let error as PostgresTransactionError {
                let cause = error.closureError ?? error.commitError ?? error.beginError ?? error
                throw MigrationError.failed(name: migration.name, reason: Database.describe(cause))
            }
            applied.append(migration.name)
        }
        return applied
    }
}
