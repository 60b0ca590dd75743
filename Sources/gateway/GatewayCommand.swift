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

    @Option(
        name: .customLong("replace"),
        help: ArgumentHelp(
            "Take over from the gateway process PID on this host: listen on the same ws and wss ports beside it (GATEWAY_REUSE_PORT), then make it drain.",
            valueName: "pid"
        )
    )
    var replace: Int32?

    @Option(help: ArgumentHelp("Write this process's id to FILE once it listens (removed at exit).", valueName: "file"))
    var pidFile: String?

    func run() async throws {
        var settings = ServiceStartup.settings(for: "gateway", GatewaySettings.init(source:), logLevel: \.core.logLevel)
        settings.pidFile = pidFile
        var predecessor: Predecessor?
        if let replace {
            guard settings.reusePort else {
                throw ValidationError("--replace needs GATEWAY_REUSE_PORT=true: the two processes share the ports while one takes over")
            }
            do {
                predecessor = try Predecessor.find(replace)
            } catch let error as PredecessorError {
                throw ValidationError(error.message)
            }
            if predecessor == nil {
                FileHandle.standardError.write(Data("gateway: no process \(replace) is running; starting without taking over\n".utf8))
            }
        }
        // Before anything uses NIO's shared event loops: their number is fixed at first use.
        NIOSingletons.groupLoopCountSuggestion = settings.eventLoops
        await ServiceStartup.run("gateway") {
            let gateway = Gateway.build(settings: settings)
            let group = ServiceGroup(
                configuration: .init(
                    services: try gateway.services(replacing: predecessor),
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: gateway.logger
                )
            )
            try await group.run()
        }
    }
}
