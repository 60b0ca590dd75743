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
        defaultSubcommand: Serve.self)
}

/// Loads settings and sets up logging, or prints one line naming the bad setting and exits 2.
func loadSettings() -> PublisherSettings {
    do {
        let settings = try PublisherSettings(source: try SettingsSource.load())
        let level = settings.core.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return settings
    } catch {
        FileHandle.standardError.write(Data("publisher: \(error)\n".utf8))
        exit(2)
    }
}

/// Runs `body`; any error ends the process with one line on standard error and exit status 1.
func exitOnError(_ body: () async throws -> Void) async {
    do {
        try await body()
    } catch {
        FileHandle.standardError.write(Data("publisher: \(error)\n".utf8))
        exit(1)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending migrations, then serve the publisher REST API (the default command).")

    func run() async throws {
        let settings = loadSettings()
        await exitOnError {
            let app = try await buildApplication(settings: settings)
            try await app.runService()
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    func run() async throws {
        let settings = loadSettings()
        await exitOnError {
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
