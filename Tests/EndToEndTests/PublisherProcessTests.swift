import Foundation
import PorticoCore
import PorticoTestSupport
import Testing

/// The built `publisher` binary, started as a user starts it.
@Suite struct PublisherProcessTests {
    /// The test settings on a port of its own, without the admin's password or the secret key: a
    /// first start as a user makes it, who has chosen neither yet.
    static func firstStart(_ url: DatabaseURL) -> [String: String] {
        TestSettings.values(url, extra: ["PUBLISHER_PORT": "\(ServiceProcess.freePort())"])
            .filter { $0.key != "PORTICO_ADMIN_PASSWORD" && $0.key != "PORTICO_SECRET_KEY" }
    }

    @Test func anInvalidSettingStopsStartUpWithOneLineNamingIt() async throws {
        let publisher = try ServiceProcess("publisher", ["serve"], environment: ["PUBLISHER_PORT": "ninety"])
        #expect(await publisher.waitForExit(seconds: 30) == 2)
        let lines = publisher.output.split(separator: "\n")
        #expect(lines == ["publisher: invalid setting PUBLISHER_PORT: 'ninety' is not a port number (1-65535)"])
    }

    @Test func firstStartWithoutAnAdminPasswordIsRefused() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let publisher = try ServiceProcess("publisher", ["serve"], environment: Self.firstStart(url))
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
            let runs = try (0..<3).map { _ in try ServiceProcess("publisher", ["migrate"], environment: Self.firstStart(url)) }
            for run in runs {
                #expect(await run.waitForExit(seconds: 60) == 0, "\(run.output)")
            }
            let outputs = runs.map(\.output)
            #expect(outputs.filter { $0.contains("applied: 0001_init.sql") }.count == 1, "\(outputs)")
            #expect(outputs.filter { $0.contains("database is up to date") }.count == 2, "\(outputs)")
        }
    }

    /// Where a job migrates (Kubernetes, `PORTICO_MIGRATE_AT_START=false`), the publisher and the
    /// devportal wait for the schema, say so once, and serve once `publisher migrate` has run.
    @Test func withoutMigratingAtStartTheServicesWaitForTheMigrationJob() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            var environment = TestSettings.values(url, extra: ["PORTICO_MIGRATE_AT_START": "false", "PORTICO_LOG_LEVEL": "info"])
            environment["PUBLISHER_PORT"] = "\(ServiceProcess.freePort())"
            environment["DEVPORTAL_PORT"] = "\(ServiceProcess.freePort())"
            let publisher = try ServiceProcess("publisher", ["serve"], environment: environment)
            let devportal = try ServiceProcess("devportal", ["serve"], environment: environment)
            defer { for process in [publisher, devportal] { process.terminate() } }
            for process in [publisher, devportal] {
                #expect(
                    await eventually(within: 30) { process.output.contains("waiting for the database schema") },
                    "\(process.output)"
                )
            }
            await pause(.seconds(1))
            let health = "http://127.0.0.1:\(environment["PUBLISHER_PORT"]!)/health/ready"
            // A plain connect (an HTTP client would retry a refused connection until its deadline).
            #expect((try? await RawConnection(health)) == nil, "no listener before the schema is there")
            let job = try ServiceProcess("publisher", ["migrate"], environment: environment)
            #expect(await job.waitForExit(seconds: 60) == 0, "\(job.output)")
            try await publisher.waitUntilReady(health, seconds: 30)
            try await devportal.waitUntilReady("http://127.0.0.1:\(environment["DEVPORTAL_PORT"]!)/health/ready", seconds: 30)
            #expect(!publisher.output.contains("applying migration") && !devportal.output.contains("applying migration"))
        }
    }

    @Test func referenceFlowOverRealSocketsThenAGracefulStop() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let port = ServiceProcess.freePort()
            let publisher = try ServiceProcess("publisher", environment: TestSettings.values(url, extra: ["PUBLISHER_PORT": "\(port)"]))
            let base = "http://127.0.0.1:\(port)"
            try await publisher.waitUntilReady("\(base)/health/ready")
            let admin = RESTClient(SocketTransport(base), base: RESTClient.publisherBase, username: "admin", password: TestSettings.adminPassword)

            let created = try await admin.createAPI()
            #expect(created.status == .created, "\(created.text)")
            let published = try await admin.lifecycle(created.id, "Publish")
            #expect(published.status == .ok)
            #expect(published["lifecycleState"]["state"] == "PUBLISHED")

            try await admin.signedIn(nil).send(.get, "apis").expectError(.unauthorized)

            publisher.terminate()
            #expect(await publisher.waitForExit(seconds: 30) == 0, "SIGTERM ends the publisher cleanly")
        }
    }
}
