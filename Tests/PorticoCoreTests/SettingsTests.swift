import Foundation
import Logging
import Testing

@testable import PorticoCore

@Suite struct SettingsTests {
    @Test func defaultsAreProductionSafe() throws {
        let settings = try CoreSettings(source: SettingsSource(values: [:]))
        #expect(settings.bindAddress == "127.0.0.1")
        #expect(settings.logLevel == .info)
        #expect(settings.developmentMode == false)
        #expect(settings.adminPassword == nil)
        #expect(settings.maxBodyBytes == 1_048_576)
        #expect(settings.database.host == "127.0.0.1")
        #expect(throws: InvalidSetting.self) { try settings.initialAdminPassword() }
    }

    @Test func developmentModeSeedsAdminAdmin() throws {
        let settings = try CoreSettings(source: SettingsSource(values: ["PORTICO_DEV_MODE": "true"]))
        #expect(try settings.initialAdminPassword() == "admin")
    }

    @Test(arguments: [
        ("PORTICO_LOG_LEVEL", "loud"),
        ("PORTICO_DEV_MODE", "maybe"),
        ("PORTICO_MAX_BODY_BYTES", "12"),
        ("PORTICO_BCRYPT_COST", "x"),
        ("DATABASE_URL", "mysql://x@y/z"),
        ("DATABASE_URL", "postgres://127.0.0.1/db"),
        ("DATABASE_URL", "postgres://u@127.0.0.1:5432/"),
        ("DATABASE_URL", "postgres://u@h/db?sslmode=sometimes"),
        ("PORTICO_ADMIN_PASSWORD", "short"),
    ])
    func invalidSettingNamesItsKey(key: String, value: String) throws {
        let error = #expect(throws: InvalidSetting.self) { try CoreSettings(source: SettingsSource(values: [key: value])) }
        #expect(error?.key == key)
        #expect(error?.description.hasPrefix("invalid setting \(key): ") == true)
        #expect(error?.description.contains("\n") == false)
    }

    @Test func portMustBeAPortNumber() throws {
        let source = SettingsSource(values: ["PUBLISHER_PORT": "70000"])
        let error = #expect(throws: InvalidSetting.self) { try source.port("PUBLISHER_PORT", default: 9080) }
        #expect(error?.description == "invalid setting PUBLISHER_PORT: '70000' is not a port number (1-65535)")
        #expect(try SettingsSource(values: [:]).port("PUBLISHER_PORT", default: 9080) == 9080)
    }

    @Test func environmentOverridesConfigFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("portico-\(UUID()).env")
        try """
        # a comment
        PORTICO_LOG_LEVEL=debug
        PORTICO_BIND_ADDRESS="0.0.0.0"
        PUBLISHER_PORT=9999
        """.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let source = try SettingsSource.load(environment: ["PORTICO_CONFIG_FILE": file.path, "PUBLISHER_PORT": "9090"])
        let settings = try CoreSettings(source: source)
        #expect(settings.logLevel == .debug)
        #expect(settings.bindAddress == "0.0.0.0")
        #expect(try source.port("PUBLISHER_PORT", default: 1) == 9090)
    }

    @Test func unreadableOrMalformedConfigFileIsNamed() throws {
        let missing = #expect(throws: InvalidSetting.self) {
            try SettingsSource.load(environment: ["PORTICO_CONFIG_FILE": "/nonexistent/portico.env"])
        }
        #expect(missing?.key == "PORTICO_CONFIG_FILE")
        let malformed = #expect(throws: InvalidSetting.self) { try SettingsSource.parseEnvFile("JUSTAWORD", path: "f") }
        #expect(malformed?.description.contains("f:1") == true)
    }

    @Test func databaseURLParsesEveryPart() throws {
        let url = try DatabaseURL(parsing: "postgres://app%40x:p%3Ass@db.example.com:6543/portico")
        #expect(url.username == "app@x")
        #expect(url.password == "p:ss")
        #expect(url.host == "db.example.com")
        #expect(url.port == 6543)
        #expect(url.database == "portico")
        #expect(url.tls == .require)
        #expect(url.redacted == "postgres://app@x@db.example.com:6543/portico")
        #expect(try DatabaseURL(parsing: "postgresql://u@localhost/d").tls == .disable)
        #expect(try DatabaseURL(parsing: "postgres://u@/d?host=/run/pg").unixSocketDirectory == "/run/pg")
    }
}
