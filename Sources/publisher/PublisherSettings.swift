import PorticoCore

/// The publisher's settings: the shared core settings plus its own port.
struct PublisherSettings: Sendable {
    var core: CoreSettings
    /// `PUBLISHER_PORT` (default 9080).
    var port: Int
    /// `PORTICO_MIGRATIONS_DIR`: where the SQL migrations are (found automatically when unset).
    var migrationsDirectory: String?

    init(source: SettingsSource) throws {
        core = try CoreSettings(source: source)
        port = try source.port("PUBLISHER_PORT", default: 9080)
        migrationsDirectory = source.string("PORTICO_MIGRATIONS_DIR")
    }
}
