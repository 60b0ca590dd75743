import Hummingbird
import Logging
import ServiceLifecycle

/// The shape every Portico REST service shares: its router on `bindAddress:port`, the PostgreSQL
/// client (and the trace exporter, when tracing is on) as services, and before serving the
/// database bootstrap (migrations, first admin) plus the service's own preparation.
package enum RESTService {
    package static func application(
        name: String,
        router: Router<PorticoRequestContext>,
        database: Database,
        settings: CoreSettings,
        port: Int,
        migrationsDirectory: String?,
        logger: Logger,
        prepare: @escaping @Sendable () async throws -> Void = {}
    ) throws -> some ApplicationProtocol {
        var services: [any Service] = [database.client]
        if let tracing = try PorticoTracing.bootstrap(service: name, enabled: settings.tracing) { services.append(tracing) }
        var app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.bindAddress, port: port), serverName: "portico-\(name)"),
            services: services,
            logger: logger
        )
        app.beforeServerStarts {
            try await Bootstrap.prepare(database: database, settings: settings, migrationsDirectory: migrationsDirectory, logger: logger)
            try await prepare()
            logger.notice(
                "\(name) listening",
                metadata: [
                    "address": "\(settings.bindAddress):\(port)", "database": "\(settings.database.redacted)",
                ]
            )
        }
        return app
    }
}
