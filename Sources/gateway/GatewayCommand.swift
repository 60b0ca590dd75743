import ArgumentParser
import Foundation
import Logging
import PorticoCore
import ServiceLifecycle

@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Portico gateway: the authenticated WebSocket proxy.",
        discussion: "Settings come from the environment and the file named by PORTICO_CONFIG_FILE; see config/portico.env.example.",
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve WebSocket APIs (the default command).")

    func run() async throws {
        let settings = ServiceStartup.settings(for: "gateway", GatewaySettings.init(source:), logLevel: \.core.logLevel)
        await ServiceStartup.run("gateway") {
            let logger = Logger(label: "portico.gateway")
            let database = Database(url: settings.core.database, poolSize: 3, logger: logger)
            let gateway = GatewayContext(
                settings: settings, snapshot: SnapshotHolder(),
                verifier: TokenVerifier(issuer: settings.tokenIssuer, audience: settings.tokenAudience, leeway: settings.tokenLeeway),
                database: database, logger: logger)
            let snapshots = SnapshotService(
                store: GatewayCatalogStore(database: database), holder: gateway.snapshot, connections: gateway.connections,
                settings: settings, logger: logger)
            let cluster = ClusterSync(store: ClusterStateStore(database: database), limiter: gateway.limiter, counts: gateway.counts,
                                      connections: gateway.connections, settings: settings, logger: logger)
            // Shut down in reverse order: the proxy drains first, then what records its connections
            // (usage, log, traces), the database last.
            var services: [any Service] = [database.client]
            if let tracing = try PorticoTracing.bootstrap(service: "gateway", enabled: settings.core.tracing) { services.append(tracing) }
            services += [gateway.log, gateway.usage, snapshots, cluster, AdminServer.build(gateway: gateway), ProxyServer(gateway: gateway)]
            let group = ServiceGroup(configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
