import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PorticoCore

@main
struct PublisherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publisher",
        abstract: "Portico publisher: design WebSocket APIs and run their lifecycle.",
        discussion: "Settings come from the environment and the file named by PORTICO_CONFIG_FILE; see config/portico.env.example.",
        subcommands: [Serve.self, Migrate.self],
        defaultSubcommand: Serve.self
    )
}

func loadSettings() -> PublisherSettings {
    ServiceStartup.settings(for: "publisher", PublisherSettings.init(source:), logLevel: \.core.logLevel)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending migrations, then serve the publisher REST API (the default command)."
    )

    func run() async throws {
        let settings = loadSettings()
        await ServiceStartup.run("publisher") {
            let app = try await buildApplication(settings: settings)
            try await app.runService()
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    func run() async throws {
        let settings = loadSettings()
        await ServiceStartup.run("publisher") {
            let logger = Logger(label: "portico.migrate")
            let migrations = try Migrator.load(from: try Migrator.locateDirectory(configured: settings.migrationsDirectory))
            let database = Database(url: settings.core.database, poolSize: 2, logger: logger)
            try await database.withRunningClient {
                try await database.waitUntilReachable(timeout: settings.core.databaseStartupTimeout, url: settings.core.database)
                let applied = try await Migrator(client: database.client, migrations: migrations, logger: logger).migrate()
                print(applied.isEmpty ? "database is up to date" : "applied: \(applied.joined(separator: ", "))")
            }
        }
    }
}
