import Logging

/// What every Portico service does with the database before it serves: apply pending migrations
/// (under the migrator's advisory lock) — or, with `PORTICO_MIGRATE_AT_START=false`, wait until a
/// migration job (`publisher migrate`) has applied them — and make sure the first admin exists.
package enum Bootstrap {
    package static func prepare(database: Database, settings: CoreSettings, migrationsDirectory: String?, logger: Logger) async throws {
        let migrations = try Migrator.load(from: try Migrator.locateDirectory(configured: migrationsDirectory))
        try await database.waitUntilReachable(timeout: settings.databaseStartupTimeout, url: settings.database)
        let migrator = Migrator(client: database.client, migrations: migrations, logger: logger)
        if settings.migrateAtStart {
            let applied = try await migrator.migrate()
            if !applied.isEmpty {
                logger.info("database migrated", metadata: ["applied": "\(applied.joined(separator: ", "))"])
            }
        } else {
            try await waitForSchema(migrator, logger: logger)
        }
        let users = UserStore(database: database, hasher: settings.makeSecretHasher())
        if try await users.exists(username: "admin") { return }
        let password = try settings.initialAdminPassword()
        if try await users.ensureAdmin(password: password) {
            if settings.adminPassword == nil {
                logger.warning("development mode: created user 'admin' with password 'admin'; never do this in production")
            } else {
                logger.notice("created user 'admin' with the password from PORTICO_ADMIN_PASSWORD")
            }
        }
    }

    /// Polls until every migration this build has is applied; says once what it waits for.
    private static func waitForSchema(_ migrator: Migrator, logger: Logger) async throws {
        var said = false
        while true {
            let pending = try await migrator.pending()
            if pending.isEmpty { return }
            if !said {
                logger.notice(
                    "waiting for the database schema: PORTICO_MIGRATE_AT_START is false, so a migration job applies it (publisher migrate)",
                    metadata: ["pending": "\(pending.joined(separator: ", "))"]
                )
                said = true
            }
            try await pause(for: .seconds(1))
        }
    }
}
