import Foundation
import PorticoCore
import PorticoTestSupport
import Testing

/// The built `publisher` binary, started as a user starts it.
@Suite struct PublisherProcessTests {
    static func environment(_ url: DatabaseURL, port: Int = ServiceProcess.freePort(), extra: [String: String] = [:]) -> [String: String] {
        [
            "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)",
            "PUBLISHER_PORT": "\(port)",
            "PORTICO_BCRYPT_COST": "4",
            "PORTICO_MIGRATIONS_DIR": TestDatabase.migrationsDirectory.path,
            "PORTICO_LOG_LEVEL": "warning",
        ].merging(extra) { _, new in new }
    }

    @Test func anInvalidSettingStopsStartUpWithOneLineNamingIt() async throws {
        let publisher = try ServiceProcess("publisher", ["serve"], environment: ["PUBLISHER_PORT": "ninety"])
        #expect(await publisher.waitForExit(seconds: 30) == 2)
        let lines = publisher.output.split(separator: "\n")
        #expect(lines == ["publisher: invalid setting PUBLISHER_PORT: 'ninety' is not a port number (1-65535)"])
    }

    @Test func firstStartWithoutAnAdminPasswordIsRefused() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let publisher = try ServiceProcess("publisher", ["serve"], environment: Self.environment(url))
            #expect(await publisher.waitForExit(seconds: 60) == 1)
            #expect(publisher.output.contains("invalid setting PORTICO_ADMIN_PASSWORD: not set"), "\(publisher.output)")
        }
    }

    @Test func anUnreachableDatabaseEndsStartUpWithAClearLine() async throws {
        let port = ServiceProcess.freePort()
        let publisher = try ServiceProcess(
            "publisher",
            ["migrate"],
            environment: [
                "DATABASE_URL": "postgres://portico@127.0.0.1:\(port)/portico", "PORTICO_DB_STARTUP_TIMEOUT": "2",
                "PORTICO_LOG_LEVEL": "error", "PORTICO_MIGRATIONS_DIR": TestDatabase.migrationsDirectory.path,
            ]
        )
        #expect(await publisher.waitForExit(seconds: 30) == 1)
        #expect(publisher.output.contains("PostgreSQL at postgres://portico@127.0.0.1:\(port)/portico did not answer within 2 s"))
    }

    @Test func concurrentMigrateCommandsApplyEachMigrationOnce() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let runs = try (0..<3).map { _ in try ServiceProcess("publisher", ["migrate"], environment: Self.environment(url)) }
            for run in runs {
                #expect(await run.waitForExit(seconds: 60) == 0, "\(run.output)")
            }
            let outputs = runs.map(\.output)
            #expect(outputs.filter { $0.contains("applied: 0001_init.sql") }.count == 1, "\(outputs)")
            #expect(outputs.filter { $0.contains("database is up to date") }.count == 2, "\(outputs)")
        }
    }

    @Test func referenceFlowOverRealSocketsThenAGracefulStop() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let port = ServiceProcess.freePort()
            let publisher = try ServiceProcess(
                "publisher",
                environment: Self.environment(url, port: port, extra: ["PORTICO_ADMIN_PASSWORD": "e2e-admin-pw"])
            )
            let base = "http://127.0.0.1:\(port)"
            try await publisher.waitUntilReady("\(base)/health/ready")
            let admin = HTTP.basic("admin", "e2e-admin-pw")

            let (created, createdBody) = try await HTTP.send(
                "POST",
                "\(base)/api/am/publisher/v4/apis",
                body: """
                    {"name":"EchoWebSocket","context":"/echowebsocket","version":"1.0.0","type":"WS",
                     "policies":["Gold","Silver"],"isDefaultVersion":true,
                     "endpointConfig":{"endpoint_type":"ws","production_endpoints":{"url":"ws://127.0.0.1:9100"}}}
                    """,
                headers: admin
            )
            #expect(created == 201, "\(String(decoding: createdBody, as: UTF8.self))")
            let id = try #require(HTTP.json(createdBody)["id"] as? String)

            let (published, publishedBody) = try await HTTP.send(
                "POST",
                "\(base)/api/am/publisher/v4/apis/change-lifecycle?apiId=\(id)&action=Publish",
                headers: admin
            )
            #expect(published == 200)
            #expect((HTTP.json(publishedBody)["lifecycleState"] as? [String: Any])?["state"] as? String == "PUBLISHED")

            let (anonymous, anonymousBody) = try await HTTP.send("GET", "\(base)/api/am/publisher/v4/apis")
            #expect(anonymous == 401)
            #expect(HTTP.json(anonymousBody)["code"] as? Int == 401)

            publisher.terminate()
            #expect(await publisher.waitForExit(seconds: 30) == 0, "SIGTERM ends the publisher cleanly")
        }
    }
}
