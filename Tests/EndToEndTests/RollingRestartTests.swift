import Foundation
import PorticoCore
import PorticoTestSupport
import Testing

/// A rolling restart under load, on one machine (docs/deploy.md): three gateways on one PostgreSQL
/// behind HAProxy, 1,000 authenticated clients sending at a steady rate (`Tests/Restart/rolling_load.py`,
/// which also serves the backend), each gateway restarted in turn with SIGTERM. `make test` runs
/// it alone, after the other tests: it loads both cores.
@Suite(.serialized) struct RollingRestartTests {
    static let clients = 1000
    static let capped = 5

    @Test func threeGatewaysRestartedInTurnUnderLoadLoseNoClientAndNoMessage() async throws {
        let python = try #require(
            ProcessInfo.processInfo.environment["PORTICO_DEPLOY_VALIDATOR"].map {
                URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("python")
            },
            "make test sets PORTICO_DEPLOY_VALIDATOR (scripts/deploy-prerequisites.sh)"
        )
        try await GatewayStack.run(extra: ["GATEWAY_DRAIN_SECONDS": "3", "GATEWAY_CLUSTER_SYNC_INTERVAL_MS": "100"]) { stack in
            let backendPort = ServiceProcess.freePort()
            let backend = "ws://127.0.0.1:\(backendPort)"
            try await stack.createPlan(#"{"policyName":"RollingMain","subscriberCount":\#(Self.clients + 50)}"#)
            try await stack.createPlan(#"{"policyName":"FiveConnections","subscriberCount":\#(Self.capped)}"#)
            try await stack.createPlan(
                #"{"policyName":"SixtyAMinute","defaultLimit":{"type":"EVENTCOUNTLIMIT","eventCount":{"eventCount":60,"timeUnit":"min","unitTime":1}},"countedDirections":"clientToBackend"}"#
            )
            for (name, plan) in [("Rolling", "RollingMain"), ("Capped", "FiveConnections"), ("Limited", "SixtyAMinute")] {
                let id = try await stack.createAPI(name: name, context: "/\(name.lowercased())", version: "1", endpoint: backend, plans: [plan])
                try await stack.lifecycle(id, "Publish")
                try await stack.subscribe(stack.applicationID, to: id, plan: plan)
            }
            try await stack.settle()

            // Three gateways: the stack's and two more, each on its own ports, one PostgreSQL.
            var environments = [stack.environment]
            for index in 2...3 {
                environments.append(
                    stack.environment.merging([
                        "GATEWAY_PORT": "\(ServiceProcess.freePort())", "GATEWAY_ADMIN_PORT": "\(ServiceProcess.freePort())",
                        "GATEWAY_MANAGEMENT_PORT": "\(ServiceProcess.freePort())", "GATEWAY_NODE_ID": "gateway-\(index)",
                    ]) { _, new in new }
                )
            }
            var gateways = [stack.gateway]
            var logs: [ServiceProcess] = []
            defer { for process in gateways + logs { process.terminate() } }
            for environment in environments.dropFirst() {
                let gateway = try ServiceProcess("gateway", environment: environment)
                try await gateway.waitUntilReady("http://127.0.0.1:\(environment["GATEWAY_ADMIN_PORT"]!)/health/ready")
                gateways.append(gateway)
            }
            let balancer = try HAProxy(
                servers: environments.map { (port: $0["GATEWAY_PORT"]!, admin: $0["GATEWAY_ADMIN_PORT"]!) }
            )
            defer { balancer.stop() }
            try await balancer.waitUntilListening()

            let stopFile = FileManager.default.temporaryDirectory.appendingPathComponent("portico-rolling-stop-\(UUID())")
            defer { try? FileManager.default.removeItem(at: stopFile) }
            let url = "ws://127.0.0.1:\(balancer.port)"
            let load = try ServiceProcess(
                executable: python,
                [
                    DeploymentTests.repository.appendingPathComponent("Tests/Restart/rolling_load.py").path,
                    "--backend-port", "\(backendPort)", "--url", "\(url)/rolling/1", "--capped-url", "\(url)/capped/1",
                    "--limited-url", "\(url)/limited/1", "--token", stack.token, "--clients", "\(Self.clients)",
                    "--capped", "\(Self.capped)", "--interval", "2", "--limited-rate", "10", "--stop", stopFile.path,
                ],
                environment: [:]
            )
            defer { load.terminate() }
            let started = Date()
            let ready = await eventually(within: 120, every: .milliseconds(200)) { load.output.contains("READY") || !load.process.isRunning }
            try #require(ready, "\(load.output)")
            try #require(load.output.contains("READY"), "\(load.output)")
            let connectedIn = Date().timeIntervalSince(started)
            await pause(.seconds(2))
            // What the gateways cost PostgreSQL (docs/deploy.md sizes it from these figures).
            let database =
                "postgres://\(stack.databaseURL.username)@\(stack.databaseURL.host):\(stack.databaseURL.port)/\(stack.databaseURL.database)"
            let connectionsHeld = try await Self.psql(
                database,
                "SELECT application_name || ' ' || count(*) FROM pg_stat_activity WHERE datname = current_database() GROUP BY application_name ORDER BY 1"
            )
            // Steady load first (1,000 clients, no restart; 15 s: one activity report), then the restarts.
            let writesBefore = try await Self.writes(database)
            await pause(.seconds(15))
            let writesSteady = try await Self.writes(database)
            let writesStarted = Date()

            // Each gateway in turn: SIGTERM (it drains: 503 to HAProxy's check, 3 s of relaying,
            // 1001 to each client, exit 0), then a new process on the same ports.
            var restarts: [String] = []
            for index in gateways.indices {
                let old = gateways[index]
                let before = Date()
                old.terminate()
                let status = await old.waitForExit(seconds: 30)
                #expect(status == 0, "gateway \(index + 1) exited with \(status.map(String.init) ?? "nothing"):\n\(old.output.suffix(2000))")
                logs.append(old)
                let replacement = try ServiceProcess("gateway", environment: environments[index])
                gateways[index] = replacement
                try await replacement.waitUntilReady("http://127.0.0.1:\(environments[index]["GATEWAY_ADMIN_PORT"]!)/health/ready")
                restarts.append(String(format: "gateway %d: %.1f s", index + 1, Date().timeIntervalSince(before)))
                // HAProxy sees it up again (two checks) before the next one goes.
                await pause(.seconds(3))
            }
            let loadSeconds = Date().timeIntervalSince(started)
            await pause(.seconds(1))  // PostgreSQL publishes its statistics within a second
            let writesAfter = try await Self.writes(database)
            let steadyRates = Self.rates(from: writesBefore, to: writesSteady, seconds: 15)
            let restartRates = Self.rates(from: writesSteady, to: writesAfter, seconds: Date().timeIntervalSince(writesStarted))
            try Data().write(to: stopFile)
            _ = await load.waitForExit(seconds: 60)
            let lastLine = try #require(load.output.split(separator: "\n").last, "\(load.output)")
            let report = JSON(parsing: Data(lastLine.utf8))
            try #require(report["handshakes"].int != nil, "\(load.output.suffix(3000))")

            // Zero refused handshakes for clients that retry once.
            let refused = report["refused"].array
            #expect(refused.isEmpty, "\(refused.count) clients refused twice: \(refused.prefix(5))")
            // Every client the gateways closed got 1001 "gateway restarting".
            let closes = report["closes"].object ?? [:]
            let closed = closes.values.compactMap(\.int).reduce(0, +)
            #expect(closes.keys.allSatisfy { $0 == "1001 gateway restarting" }, "\(closes)")
            #expect(closed >= Self.clients, "each of the \(Self.clients) clients was on a restarted gateway at least once: \(closed)")

            // No message a gateway read was lost: per gateway connection, what the gateway relayed
            // to the backend (its connection log's messagesIn) is what the backend received, and
            // what it relayed to the client (messagesOut) is what the client received. A message
            // the client sent after the gateway's close frame left may be unread: at most one.
            let logged = Self.connectionLog(gateways + logs)
            let connections = report["connections"].object ?? [:]
            let received = report["backend"].object ?? [:]
            var mismatches: [String] = []
            var messages = 0
            for (id, counts) in connections {
                guard let entry = logged[id] else {
                    mismatches.append("\(id): not in any gateway's connection log")
                    continue
                }
                let backendGot = received[id]?.int ?? 0
                let sent = counts["sent"].int ?? 0
                let sentBeforeClose = counts["sentBeforeClose"].int ?? 0
                messages += sent
                if entry.messagesIn != backendGot { mismatches.append("\(id): relayed \(entry.messagesIn) to the backend, which got \(backendGot)") }
                if entry.messagesOut != counts["echoed"].int {
                    mismatches.append("\(id): relayed \(entry.messagesOut) to the client, which got \(counts["echoed"])")
                }
                if sentBeforeClose > 0 && sentBeforeClose - backendGot > 1 {
                    mismatches.append("\(id): \(sentBeforeClose) sent before the close, \(backendGot) reached the backend")
                }
            }
            #expect(mismatches.isEmpty, "\(mismatches.count) connections: \(mismatches.prefix(5))")

            // The cap held across the restarts: the five capped clients always got back in, a sixth is refused.
            #expect(report["cappedFinal"].int == 429, "\(report["cappedFinal"])")
            // The rate limit held: 60 a minute across three gateways, with the documented slack
            // (each gateway's events of one sync round, and a restarted gateway's unsynced ones).
            let limitedSeconds = report["limitedSeconds"].double ?? 0
            let limitedEchoed = report["limitedEchoed"].int ?? 0
            let bound = 60 + Int(limitedSeconds) + 3 * 2 + 3 * 2
            #expect(limitedEchoed >= 60 && limitedEchoed <= bound, "\(limitedEchoed) of \(report["limitedSent"]) admitted; bound \(bound)")

            let figures = [
                "clients \(Self.clients) + \(Self.capped) capped + 1 rate-limited, connected in \(String(format: "%.1f", connectedIn)) s",
                "run \(String(format: "%.0f", loadSeconds)) s; restarts: \(restarts.joined(separator: ", "))",
                "handshakes \(report["handshakes"]), reconnects \(report["reconnects"]), refused after one retry \(refused.count)",
                "closes \(closes)", "connections checked \(connections.count), messages sent \(messages), mismatches \(mismatches.count)",
                "rate-limited: \(limitedEchoed) of \(report["limitedSent"]) admitted in \(String(format: "%.0f", limitedSeconds)) s (bound \(bound))",
                "PostgreSQL connections under load (application_name count): \(connectionsHeld.joined(separator: ", "))",
                "PostgreSQL rows written per second, steady (15 s): " + steadyRates,
                "PostgreSQL rows written per second, during the restarts: " + restartRates,
            ]
            print("rolling restart: " + figures.joined(separator: "\nrolling restart: "))
        }
    }

    /// `psql` (PostgreSQL's client, installed with the server) on `url`: one line per row.
    static func psql(_ url: String, _ sql: String) async throws -> [String] {
        let run = try await CommandRun.run(executable: URL(fileURLWithPath: "/usr/bin/env"), ["psql", url, "-Atc", sql], environment: [:])
        try #require(run.status == 0, "psql: \(run.stderr)")
        return run.stdout.split(separator: "\n").map(String.init)
    }

    /// Rows inserted, updated and deleted so far, per table, plus the database's commits.
    static func writes(_ url: String) async throws -> [String: Int] {
        var result: [String: Int] = [:]
        let sql = """
            SELECT relname || ' ' || (n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables
            UNION ALL SELECT 'transactions ' || xact_commit FROM pg_stat_database WHERE datname = current_database()
            """
        for line in try await psql(url, sql) {
            let parts = line.split(separator: " ")
            if parts.count == 2, let count = Int(parts[1]) { result[String(parts[0])] = count }
        }
        return result
    }

    /// The gateways' tables' rows written per second between two `writes`, and the commits.
    static func rates(from before: [String: Int], to after: [String: Int], seconds: Double) -> String {
        let tables = [
            "gateway_connections", "gateway_connection_counts", "gateway_nodes", "rate_buckets", "usage_minutes", "connection_calls", "transactions",
        ]
        return tables.compactMap { table in
            guard let count = after[table] else { return nil }
            return "\(table) \(String(format: "%.1f", Double(count - (before[table] ?? 0)) / seconds))"
        }.joined(separator: ", ")
    }

    struct LoggedConnection {
        let messagesIn: Int
        let messagesOut: Int
    }

    /// Every connection the gateways logged (`"event":"connection"` lines), by connection id.
    static func connectionLog(_ processes: [ServiceProcess]) -> [String: LoggedConnection] {
        var result: [String: LoggedConnection] = [:]
        for process in processes {
            for line in process.output.split(separator: "\n") where line.contains(#""event":"connection""#) {
                let entry = JSON(parsing: Data(line.utf8))
                guard let id = entry["connectionId"].string else { continue }
                result[id] = LoggedConnection(messagesIn: entry["messagesIn"].int ?? 0, messagesOut: entry["messagesOut"].int ?? 0)
            }
        }
        return result
    }
}

/// HAProxy (Debian's package) in front of the gateways: WebSocket tunnels, each gateway checked on
/// its readiness endpoint every 500 ms, so that a draining gateway (503) gets no new client.
final class HAProxy: @unchecked Sendable {
    let port = ServiceProcess.freePort()
    let process: ServiceProcess
    let configuration: URL

    init(servers: [(port: String, admin: String)]) throws {
        configuration = FileManager.default.temporaryDirectory.appendingPathComponent("portico-haproxy-\(UUID()).cfg")
        let lines = servers.enumerated().map { index, server in
            "    server gateway\(index + 1) 127.0.0.1:\(server.port) check port \(server.admin) inter 500 fall 1 rise 2"
        }
        let text = """
            global
                maxconn 8000
            defaults
                mode http
                timeout connect 5s
                timeout client 60s
                timeout server 60s
                timeout tunnel 1h
            frontend gateways
                bind 127.0.0.1:\(port)
                default_backend gateways
            backend gateways
                balance roundrobin
                option httpchk GET /health/ready
                retries 2
                option redispatch
            \(lines.joined(separator: "\n"))

            """
        try text.write(to: configuration, atomically: true, encoding: .utf8)
        process = try ServiceProcess(executable: URL(fileURLWithPath: "/usr/sbin/haproxy"), ["-db", "-f", configuration.path], environment: [:])
    }

    func waitUntilListening() async throws {
        let listening = await eventually(within: 10) {
            (try? await HTTP.send("GET", "http://127.0.0.1:\(self.port)/health/ready")) != nil
        }
        try #require(listening, "HAProxy did not start: \(process.output)")
    }

    func stop() {
        process.terminate()
        try? FileManager.default.removeItem(at: configuration)
    }
}
