import ArgumentParser
import Foundation
import Logging
import NIOCore
import PorticoCore
import ServiceLifecycle

@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Portico gateway: the authenticated WebSocket proxy.",
        discussion: "Settings come from the environment and the file named by PORTICO_CONFIG_FILE; see config/portico.env.example.",
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve WebSocket APIs (the default command).")

    func run() async throws {
        let settings = ServiceStartup.settings(for: "gateway", GatewaySettings.init(source:), logLevel: \.core.logLevel)
        // Before anything uses NIO's shared event loops: their number is fixed at first use.
        NIOSingletons.groupLoopCountSuggestion = settings.eventLoops
        await ServiceStartup.run("gateway") {
            let gateway = Gateway.build(settings: settings)
            let group = ServiceGroup(
                configuration: .init(
                    services: try gateway.services(),
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: gateway.logger
                )
            )
            try await group.run()
        }
    }
}
