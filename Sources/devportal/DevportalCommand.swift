import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PorticoCore

@main
struct DevportalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devportal",
        abstract: "Portico devportal: the catalog, applications, subscriptions, client keys and OAuth2 tokens.",
        discussion: "Settings come from the environment and the file named by PORTICO_CONFIG_FILE; see config/portico.env.example.",
        subcommands: [Serve.self, RotateSigningKey.self],
        defaultSubcommand: Serve.self
    )
}

func loadSettings() -> DevportalSettings {
    ServiceStartup.settings(for: "devportal", DevportalSettings.init(source:), logLevel: \.core.logLevel)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending migrations, then serve the devportal REST API and OAuth2 endpoints (the default command)."
    )

    func run() async throws {
        let settings = loadSettings()
        await ServiceStartup.run("devportal") {
            try await buildApplication(settings: settings).runService()
        }
    }
}

struct RotateSigningKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-signing-key",
        abstract: "Make a new token signing key active. The old one stays in the JWKS until its tokens have expired."
    )

    func run() async throws {
        let settings = loadSettings()
        await ServiceStartup.run("devportal") {
            let logger = Logger(label: "portico.devportal")
            let database = Database(url: settings.core.database, poolSize: 2, logger: logger)
            try await database.withRunningClient {
                try await Bootstrap.prepare(
                    database: database,
                    settings: settings.core,
                    migrationsDirectory: settings.migrationsDirectory,
                    logger: logger
                )
                let (active, retired) = try await signingKeyStore(database, settings).rotate()
                print(
                    "active signing key: \(active)" + (retired.map { "; retired: \($0) (published for \(settings.maxTokenValidity) s more)" } ?? "")
                )
            }
        }
    }
}

func signingKeyStore(_ database: Database, _ settings: DevportalSettings) -> SigningKeyStore {
    SigningKeyStore(database: database, box: settings.secretBox, maxTokenLifetime: .seconds(settings.maxTokenValidity))
}
