import Logging

/// What every Portico service does with the database before it serves: apply pending migrations
/// (under the migrator's advisory lock) and make sure the first admin exists.
package enum Bootstrap {
    package static func prepare(database: Database, settings: CoreSettings, migrationsDirectory: String?, logger: Logger) async throws {
        let migrations = try Migrator.load(from: try Migrator.locateDirectory(configured: migrationsDirectory))
        try await database.waitUntilReachable(timeout: settings.databaseStartupTimeout, url: settings.database)
        let applied = try await Migrator(client: database.client, migrations: migrations, logger: logger).migrate()
        if !applied.isEmpty {
            logger.info("database migrated", metadata: ["applied": "\(applied.joined(separator: ", "))"])
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
}
