import Foundation
import PorticoTestSupport
import PostgresNIO
import Testing

@testable import PorticoCore

@Suite struct MigratorTests {
    /// A folder of migration files, removed when the test ends.
    final class MigrationFolder: Sendable {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("portico-migrations-\(UUID())")
        init(_ files: [String: String]) throws {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for (name, sql) in files { try write(name, sql) }
        }
        func write(_ name: String, _ sql: String) throws {
            try sql.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    static let files = [
        "0001_create.sql": "CREATE TABLE t (x integer);\n-- a comment; with a semicolon\nCREATE TABLE u (y text DEFAULT ';');",
        "0002_fill.sql": "INSERT INTO t VALUES (1);",
        "0010_alter.sql": "ALTER TABLE t ADD COLUMN z text;",
    ]

    static func migrator(_ database: Database, _ folder: MigrationFolder) throws -> Migrator {
        Migrator(client: database.client, migrations: try Migrator.load(from: folder.url), logger: TestDatabase.logger)
    }

    static func count(_ sql: String, _ database: Database) async throws -> Int {
        var value = 0
        for try await n in try await database.client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(Int.self) {
            value = n
        }
        return value
    }

    static func withDatabase<T: Sendable>(_ body: @Sendable (Database) async throws -> T) async throws -> T {
        try await TestDatabase.withEmptyDatabase { url in
            let database = Database(url: url, poolSize: 8, logger: TestDatabase.logger)
            return try await database.withRunningClient { try await body(database) }
        }
    }

    @Test func appliesInOrderAndRecordsChecksums() async throws {
        let folder = try MigrationFolder(Self.files)
        try await Self.withDatabase { database in
            let migrator = try Self.migrator(database, folder)
            #expect(migrator.migrations.map(\.version) == [1, 2, 10])
            let applied = try await migrator.migrate()
            #expect(applied == ["0001_create.sql", "0002_fill.sql", "0010_alter.sql"])
            var recorded: [String] = []
            for try await (name, checksum) in try await database.client.query(
                "SELECT name, checksum FROM schema_migrations ORDER BY version",
                logger: TestDatabase.logger
            ).decode((String, String).self) {
                #expect(checksum == migrator.migrations.first { $0.name == name }?.checksum)
                recorded.append(name)
            }
            #expect(recorded == applied)
            #expect(try await Self.count("SELECT count(*) FROM t WHERE z IS NULL", database) == 1)
        }
    }

    @Test func secondRunAppliesNothing() async throws {
        let folder = try MigrationFolder(Self.files)
        try await Self.withDatabase { database in
            try await Self.migrator(database, folder).migrate()
            #expect(try await Self.migrator(database, folder).migrate().isEmpty)
            #expect(try await Self.count("SELECT count(*) FROM t", database) == 1)
        }
    }

    @Test func refusesAnAppliedFileThatChanged() async throws {
        let folder = try MigrationFolder(Self.files)
        try await Self.withDatabase { database in
            try await Self.migrator(database, folder).migrate()
            try folder.write("0002_fill.sql", "INSERT INTO t VALUES (2);")
            try folder.write("0011_more.sql", "CREATE TABLE v (x int);")
            let error = await #expect(throws: MigrationError.self) { try await Self.migrator(database, folder).migrate() }
            guard case .changedAfterApplied(let name, _, _) = error else {
                Issue.record("expected changedAfterApplied, got \(String(describing: error))")
                return
            }
            #expect(name == "0002_fill.sql")
            #expect(error?.description.contains("0002_fill.sql was changed after it was applied") == true)
            let recorded = try await Self.count("SELECT count(*) FROM schema_migrations", database)
            #expect(recorded == 3, "nothing newer applied")
        }
    }

    @Test func refusesADatabaseNewerThanTheBuild() async throws {
        let folder = try MigrationFolder(Self.files)
        try await Self.withDatabase { database in
            try await Self.migrator(database, folder).migrate()
            try FileManager.default.removeItem(at: folder.url.appendingPathComponent("0010_alter.sql"))
            let error = await #expect(throws: MigrationError.self) { try await Self.migrator(database, folder).migrate() }
            #expect(error == .unknownAppliedVersion(10, "0010_alter.sql"))
        }
    }

    @Test func aFailingMigrationIsRolledBackWhole() async throws {
        let folder = try MigrationFolder([
            "0001_ok.sql": "CREATE TABLE t (x integer);",
            "0002_bad.sql": "CREATE TABLE half (x integer);\nSELECT no_such_function();",
        ])
        try await Self.withDatabase { database in
            let error = await #expect(throws: MigrationError.self) { try await Self.migrator(database, folder).migrate() }
            #expect(error?.description.contains("0002_bad.sql failed") == true)
            #expect(error?.description.contains("no_such_function") == true)
            let halfTables = try await Self.count("SELECT count(*) FROM pg_tables WHERE tablename = 'half'", database)
            let recorded = try await Self.count("SELECT count(*) FROM schema_migrations", database)
            #expect(halfTables == 0)
            #expect(recorded == 1)
        }
    }

    @Test func concurrentRunsApplyEachMigrationOnce() async throws {
        let folder = try MigrationFolder(Self.files)
        try await TestDatabase.withEmptyDatabase { url in
            // Separate clients, as separate processes would have.
            let results = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let database = Database(url: url, poolSize: 2, logger: TestDatabase.logger)
                        return try await database.withRunningClient { try await Self.migrator(database, folder).migrate() }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { !$0.isEmpty } == [["0001_create.sql", "0002_fill.sql", "0010_alter.sql"]])
            let database = Database(url: url, poolSize: 1, logger: TestDatabase.logger)
            let rows = try await database.withRunningClient { try await Self.count("SELECT count(*) FROM t", database) }
            #expect(rows == 1)
        }
    }

    @Test func fileNamesMustCarryAVersion() throws {
        let folder = try MigrationFolder(["init.sql": "SELECT 1;"])
        #expect(throws: MigrationError.badFileName("init.sql")) { try Migrator.load(from: folder.url) }
        let duplicate = try MigrationFolder(["0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;"])
        #expect(throws: MigrationError.duplicateVersion(1)) { try Migrator.load(from: duplicate.url) }
    }

    @Test func projectMigrationsApplyAndSeedThePlans() async throws {
        try await TestDatabase.withMigratedDatabase { database in
            let plans = try await BusinessPlanStore(database: database).list().map(\.name)
            #expect(Set(plans) == ["Unlimited", "Gold", "Silver", "Bronze"])
        }
    }
}
