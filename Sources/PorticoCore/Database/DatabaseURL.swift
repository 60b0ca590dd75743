import Foundation
import NIOSSL
import PostgresNIO

/// A parsed `postgres://user:password@host:port/database?sslmode=…` URL.
///
/// `sslmode` accepts `disable` (default for loopback hosts), `prefer` and `require` (default for
/// every other host). `?host=/path/to/dir` connects through the Unix socket in that directory.
package struct DatabaseURL: Sendable, Equatable {
    package enum TLSMode: String, Sendable { case disable, prefer, require }

    package struct ParseError: Error { package let reason: String }

    package var host: String
    package var port: Int
    package var username: String
    package var password: String?
    package var database: String
    package var tls: TLSMode
    package var unixSocketDirectory: String?

    package init(parsing string: String) throws {
        guard let components = URLComponents(string: string),
            let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql"
        else {
            throw ParseError(reason: "expected a URL of the form postgres://user:password@host:port/database")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        unixSocketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        host = components.host ?? ""
        if host.isEmpty, unixSocketDirectory == nil {
            throw ParseError(reason: "the URL names no host")
        }
        port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw ParseError(reason: "port \(port) is out of range") }
        guard let user = components.user, !user.isEmpty else {
            throw ParseError(reason: "the URL names no user")
        }
        username = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.isEmpty, !path.contains("/") else { throw ParseError(reason: "the URL names no database") }
        database = path
        let loopback = ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host) || unixSocketDirectory != nil
        if let mode = query["sslmode"] {
            guard let parsed = TLSMode(rawValue: mode) else {
                throw ParseError(reason: "sslmode '\(mode)' is not one of disable, prefer, require")
            }
            tls = parsed
        } else {
            tls = loopback ? .disable : .require
        }
    }

    /// The same server with another database name (tests create throwaway databases this way).
    package func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// The URL without its password, safe to log.
    package var redacted: String {
        let location = unixSocketDirectory.map { "[socket \($0)]" } ?? "\(host):\(port)"
        return "postgres://\(username)@\(location)/\(database)"
    }

    package func clientConfiguration(poolSize: Int = 10) -> PostgresClient.Configuration {
        let tlsSetting: PostgresClient.Configuration.TLS
        switch tls {
        case .disable: tlsSetting = .disable
        case .prefer: tlsSetting = .prefer(.makeClientConfiguration())
        case .require: tlsSetting = .require(.makeClientConfiguration())
        }
        var configuration: PostgresClient.Configuration
        if let directory = unixSocketDirectory {
            configuration = .init(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)",
                username: username,
                password: password,
                database: database
            )
        } else {
            configuration = .init(
                host: host,
                port: port,
                username: username,
                password: password,
                database: database,
                tls: tlsSetting
            )
        }
        configuration.options.maximumConnections = poolSize
        // `pg_stat_activity` then says which service holds each connection (docs/deploy.md sizes
        // PostgreSQL from it): "portico-gateway", "portico-publisher", …
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "portico").lastPathComponent
        configuration.options.additionalStartupParameters = [("application_name", "portico-\(executable.prefix(40))")]
        return configuration
    }
}
