import Foundation
import PorticoCore

/// The one settings dictionary of every service under test, whether it runs on its router, in the
/// test's process or as a process: the database, fast bcrypt, the admin's password, the key that
/// seals signing keys, the migrations. A test adds what it is about.
package enum TestSettings {
    package static let adminPassword = "admin-secret"
    /// The key every service seals secrets with (signing keys) in one test run.
    package static let secretKey = SecretBox.randomKeyBase64()

    package static func values(_ url: DatabaseURL, extra: [String: String] = [:]) -> [String: String] {
        [
            "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)",
            "PORTICO_ADMIN_PASSWORD": adminPassword,
            "PORTICO_SECRET_KEY": secretKey,
            "PORTICO_BCRYPT_COST": "4",
            "PORTICO_MIGRATIONS_DIR": TestDatabase.migrationsDirectory.path,
            "PORTICO_LOG_LEVEL": "warning",
        ]
        .merging(extra) { _, new in new }
    }

    /// `values` plus free ports for the publisher, the devportal, the gateway and its admin and
    /// management ports, and a gateway that drains in a second: what a whole stack needs.
    package static func stack(_ url: DatabaseURL, extra: [String: String] = [:]) -> [String: String] {
        let ports = (0..<5).map { _ in ServiceProcess.freePort() }
        return values(
            url,
            extra: [
                "PUBLISHER_PORT": "\(ports[0])", "DEVPORTAL_PORT": "\(ports[1])", "GATEWAY_PORT": "\(ports[2])",
                "GATEWAY_ADMIN_PORT": "\(ports[3])", "GATEWAY_MANAGEMENT_PORT": "\(ports[4])", "GATEWAY_BIND_ADDRESS": "127.0.0.1",
                "GATEWAY_DRAIN_SECONDS": "1",
            ]
            .merging(extra) { _, new in new }
        )
    }
}
