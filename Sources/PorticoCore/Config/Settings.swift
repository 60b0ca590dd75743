import Foundation
import Logging
import NIOCore

/// A setting that failed validation. Its description is the single line printed at start-up.
package struct InvalidSetting: Error, CustomStringConvertible, Equatable {
    package let key: String
    package let reason: String

    package init(key: String, reason: String) {
        self.key = key
        self.reason = reason
    }

    package var description: String { "invalid setting \(key): \(reason)" }
}

/// The raw key/value source for settings: the process environment layered over an optional
/// `KEY=value` file (see `config/portico.env.example`). Environment variables win.
package struct SettingsSource: Sendable {
    package var values: [String: String]

    package init(values: [String: String]) {
        self.values = values
    }

    /// Reads `PORTICO_CONFIG_FILE` (when set) and overlays the environment on top of it.
    package static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SettingsSource {
        var values: [String: String] = [:]
        if let path = environment["PORTICO_CONFIG_FILE"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw InvalidSetting(key: "PORTICO_CONFIG_FILE", reason: "cannot read '\(path)'")
            }
            values = try parseEnvFile(text, path: path)
        }
        values.merge(environment) { _, env in env }
        return SettingsSource(values: values)
    }

    /// Parses `KEY=value` lines; `#` starts a comment line; surrounding quotes are removed.
    static func parseEnvFile(_ text: String, path: String) throws -> [String: String] {
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else {
                throw InvalidSetting(key: "PORTICO_CONFIG_FILE", reason: "\(path):\(index + 1): expected KEY=value")
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            values[key] = value
        }
        return values
    }

    package func string(_ key: String) -> String? {
        guard let value = values[key], !value.isEmpty else { return nil }
        return value
    }

    package func string(_ key: String, default fallback: String) -> String {
        string(key) ?? fallback
    }

    package func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let raw = string(key) else { return fallback }
        guard let value = Int(raw), range.contains(value) else {
            throw InvalidSetting(key: key, reason: "'\(raw)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    package func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let raw = string(key) else { return fallback }
        switch raw.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw InvalidSetting(key: key, reason: "'\(raw)' is not a boolean (true or false)")
        }
    }

    package func port(_ key: String, default fallback: Int) throws -> Int {
        guard let raw = string(key) else { return fallback }
        guard let value = Int(raw), (1...65535).contains(value) else {
            throw InvalidSetting(key: key, reason: "'\(raw)' is not a port number (1-65535)")
        }
        return value
    }

    package func logLevel(_ key: String, default fallback: Logger.Level) throws -> Logger.Level {
        guard let raw = string(key) else { return fallback }
        guard let level = Logger.Level(rawValue: raw.lowercased()) else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw InvalidSetting(key: key, reason: "'\(raw)' is not a log level (\(names))")
        }
        return level
    }
}

/// Settings shared by every Portico service. Each has a production-safe default; see
/// `config/portico.env.example` for the documented list.
package struct CoreSettings: Sendable {
    /// `DATABASE_URL`: where PostgreSQL is.
    package var database: DatabaseURL
    /// `PORTICO_BIND_ADDRESS`: the address the REST services listen on.
    package var bindAddress: String
    /// `PORTICO_LOG_LEVEL`.
    package var logLevel: Logger.Level
    /// `PORTICO_ADMIN_PASSWORD`: the password the first start gives the `admin` user.
    package var adminPassword: String?
    /// `PORTICO_DEV_MODE`: allows a start without an admin password (admin/admin) and says so.
    package var developmentMode: Bool
    /// `PORTICO_MAX_BODY_BYTES`: the largest request body a REST service accepts (413 above it).
    package var maxBodyBytes: Int
    package static let defaultMaxBodyBytes = 1_048_576
    /// `PORTICO_BCRYPT_COST`: the bcrypt work factor for new password hashes.
    package var bcryptCost: Int
    /// `PORTICO_BCRYPT_WORKERS` (default and maximum: the number of cores): bcrypts run at once.
    package var bcryptWorkers: Int
    /// `PORTICO_BCRYPT_QUEUE` (default 64): bcrypts that may wait for a worker; beyond, 503.
    package var bcryptQueue: Int
    /// `PORTICO_AUTH_CACHE_SECONDS` (default 60; 0 turns it off): how long verified Basic
    /// credentials are remembered (under a keyed hash, never the password).
    package var authCacheSeconds: Int
    /// `PORTICO_AUTH_MAX_FAILURES` (default 10): failed sign-ins per user name within a minute
    /// before that name is refused with 429 for the rest of the minute.
    package var authMaxFailuresPerUser: Int
    /// `PORTICO_AUTH_MAX_FAILURES_PER_ADDRESS` (default 30): the same per client address.
    package var authMaxFailuresPerAddress: Int
    /// `PORTICO_DB_POOL_SIZE`: the most connections one service process opens to PostgreSQL.
    package var databasePoolSize: Int
    /// `PORTICO_DB_STARTUP_TIMEOUT`: how long start-up waits for PostgreSQL to answer, in seconds.
    package var databaseStartupTimeout: Duration
    /// `PORTICO_MIGRATE_AT_START` (default true): the publisher and devportal apply pending
    /// migrations before they serve. False where a migration job does it (Kubernetes): they wait
    /// for the schema instead of racing to migrate.
    package var migrateAtStart: Bool
    /// `PORTICO_TRACING` (default false): export OpenTelemetry traces of REST requests and gateway
    /// handshakes over OTLP/HTTP, configured by the standard `OTEL_*` variables.
    package var tracing: Bool
    /// `GATEWAY_PUBLIC_HOST` (default localhost), `GATEWAY_PORT` (9099), `GATEWAY_TLS_PORT` (8099):
    /// where clients reach the gateway — the URLs both portals and the catalog show.
    package var gateway: PublicGatewayAddress
    /// `PORTICO_SESSION_IDLE_SECONDS` (default 1800): a portal session unused this long ends.
    package var sessionIdleSeconds: Int
    /// `PORTICO_SESSION_MAX_SECONDS` (default 43200): a portal session ends this long after sign-in.
    package var sessionMaxSeconds: Int
    /// `PORTICO_SECURE_COOKIES` (default true, false in development mode): mark the portals' cookies
    /// `Secure` — browsers then send them over https only, as a proxy serving the portals over TLS does.
    package var secureCookies: Bool

    package static let defaultDatabaseURL = "postgres://portico@127.0.0.1:5432/portico"

    package init(source: SettingsSource) throws {
        let url = source.string("DATABASE_URL", default: Self.defaultDatabaseURL)
        do {
            database = try DatabaseURL(parsing: url)
        } catch let error as DatabaseURL.ParseError {
            throw InvalidSetting(key: "DATABASE_URL", reason: error.reason)
        }
        bindAddress = source.string("PORTICO_BIND_ADDRESS", default: "127.0.0.1")
        logLevel = try source.logLevel("PORTICO_LOG_LEVEL", default: .info)
        adminPassword = source.string("PORTICO_ADMIN_PASSWORD")
        developmentMode = try source.bool("PORTICO_DEV_MODE", default: false)
        maxBodyBytes = try source.int("PORTICO_MAX_BODY_BYTES", default: Self.defaultMaxBodyBytes, range: 1024...(64 * 1_048_576))
        bcryptCost = try source.int("PORTICO_BCRYPT_COST", default: 10, range: 4...31)
        // At most the cores: bcrypt runs on NIO's thread pool, which has a thread per core.
        bcryptWorkers = try source.int("PORTICO_BCRYPT_WORKERS", default: System.coreCount, range: 1...max(1, System.coreCount))
        bcryptQueue = try source.int("PORTICO_BCRYPT_QUEUE", default: 64, range: 0...100_000)
        authCacheSeconds = try source.int("PORTICO_AUTH_CACHE_SECONDS", default: 60, range: 0...3600)
        authMaxFailuresPerUser = try source.int("PORTICO_AUTH_MAX_FAILURES", default: 10, range: 1...10_000)
        authMaxFailuresPerAddress = try source.int("PORTICO_AUTH_MAX_FAILURES_PER_ADDRESS", default: 30, range: 1...100_000)
        databasePoolSize = try source.int("PORTICO_DB_POOL_SIZE", default: 10, range: 1...200)
        databaseStartupTimeout = .seconds(try source.int("PORTICO_DB_STARTUP_TIMEOUT", default: 30, range: 1...3600))
        migrateAtStart = try source.bool("PORTICO_MIGRATE_AT_START", default: true)
        tracing = try source.bool("PORTICO_TRACING", default: false)
        gateway = PublicGatewayAddress(
            host: source.string("GATEWAY_PUBLIC_HOST", default: "localhost"),
            port: try source.port("GATEWAY_PORT", default: 9099),
            tlsPort: try source.port("GATEWAY_TLS_PORT", default: 8099)
        )
        sessionIdleSeconds = try source.int("PORTICO_SESSION_IDLE_SECONDS", default: 1800, range: 60...86_400)
        sessionMaxSeconds = try source.int("PORTICO_SESSION_MAX_SECONDS", default: 43_200, range: 60...2_592_000)
        secureCookies = try source.bool("PORTICO_SECURE_COOKIES", default: !developmentMode)
        if let password = adminPassword, password.count < 8, !developmentMode {
            throw InvalidSetting(key: "PORTICO_ADMIN_PASSWORD", reason: "must be at least 8 characters")
        }
    }

    /// A hasher with this process's bcrypt cost and a bounded pool of its own; a service makes one
    /// and shares it, so the bound holds for all its password and secret checks together.
    package func makeSecretHasher() -> SecretHasher {
        SecretHasher(cost: bcryptCost, pool: BcryptPool(workers: bcryptWorkers, queueLimit: bcryptQueue))
    }

    /// The admin password to seed with, or an error when none is configured outside development mode.
    package func initialAdminPassword() throws -> String {
        if let adminPassword { return adminPassword }
        if developmentMode { return "admin" }
        throw InvalidSetting(
            key: "PORTICO_ADMIN_PASSWORD",
            reason: "not set; set it to create the first admin user, or set PORTICO_DEV_MODE=true for admin/admin"
        )
    }
}
