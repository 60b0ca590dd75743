import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOWebSocket
import PorticoCore
import PorticoTestSupport
import Testing
import WebSocketKit

/// What is about the gateway's process: its memory, SIGTERM, its backend process killed, a first
/// start before the schema exists.
@Suite(.serialized) struct GatewayProcessTests {
    @Test func aVanishedBackendClosesTheClientWith1011() async throws {
        try await GatewayStack.run { stack in
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await client.socket.send("ping")
            #expect(await client.waitFor { $0.texts == ["ping"] })
            stack.echo.process.terminate()
            kill(stack.echo.process.processIdentifier, SIGKILL)
            #expect(await client.closeCode(within: 3) == .unexpectedServerError)
            #expect(
                await TestClient.refusal("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)") == 502,
                "a backend that is down is 502 at once"
            )
        }
    }

    /// SIGTERM: not ready at once, open connections relay through the drain, then 1001 "gateway
    /// restarting" to each, and exit 0 (docs/gateway.md, Operations).
    @Test func sigtermDrainsAndExitsZero() async throws {
        try await GatewayStack.run(extra: ["GATEWAY_DRAIN_SECONDS": "3"]) { stack in
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            let raw = try RawWebSocket(gatewayURL: stack.gatewayURL, path: "/echowebsocket/1.0.0?access_token=\(stack.token)", extensions: "x")
            // The 101 leaves before the gateway registers the connection: a SIGTERM in between would find none to drain.
            try await stack.waitForActiveConnections(2)
            stack.gateway.terminate()
            #expect(await eventually(within: 2) { (try? await HTTP.send("GET", "\(stack.adminURL)/health/ready"))?.status == 503 })
            let ready = try await HTTP.send("GET", "\(stack.adminURL)/health/ready")
            #expect(HTTP.json(ready.body)["status"] == "DRAINING")
            try await client.socket.send("during the drain")
            #expect(await client.waitFor { $0.texts == ["during the drain"] }, "open connections relay through the drain")
            #expect(await client.closeCode(within: 10) == .goingAway)
            var frame = try raw.receive()
            while frame.opcode != 8 { frame = try raw.receive() }
            #expect(frame.closeCode == 1001)
            #expect(String(decoding: frame.payload.dropFirst(2), as: UTF8.self) == "gateway restarting")
            #expect(await stack.gateway.waitForExit(seconds: 15) == 0)
        }
    }

    /// Restart in place (docs/deploy.md): handshakes run without a pause while a new gateway process
    /// takes over the same ports (`gateway serve --replace PID`): none fails, the old process drains
    /// its open connection (1001) and exits 0, and the new one then opens the admin listener.
    @Test func aGatewayReplacedInPlaceRefusesNoHandshake() async throws {
        try await GatewayStack.run(extra: ["GATEWAY_DRAIN_SECONDS": "2"]) { stack in
            let held = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await stack.waitForActiveConnections(1)
            let path = "/echowebsocket/1.0.0?access_token=\(stack.token)"
            let stop = StopFlag()
            // 32 clients handshake one after another, as fast as they can, the whole time: the gateway
            // always has connections waiting to be accepted.
            let loops = (0..<32).map { _ in
                Task { () -> (succeeded: Int, failures: [String]) in
                    var succeeded = 0
                    var failures: [String] = []
                    while !stop.isSet {
                        do {
                            let head = try await RawHandshake.perform(stack.gatewayURL, path: path, headers: [])
                            if head.status == .switchingProtocols { succeeded += 1 } else { failures.append("\(head.status.code)") }
                        } catch {
                            failures.append("\(error)")
                        }
                    }
                    return (succeeded, failures)
                }
            }
            await pause(.milliseconds(500))
            let old = stack.gateway.process.processIdentifier
            let successor = try ServiceProcess("gateway", ["serve", "--replace", "\(old)"], environment: stack.environment)
            defer { successor.terminate() }
            #expect(await held.closeCode(within: 20) == .goingAway, "the old process drains its connections")
            #expect(await stack.gateway.waitForExit(seconds: 20) == 0)
            try await successor.waitUntilReady("\(stack.adminURL)/health/ready", seconds: 20)
            await pause(.milliseconds(500))
            stop.set()
            var succeeded = 0
            var failures: [String] = []
            for loop in loops {
                let result = await loop.value
                succeeded += result.succeeded
                failures += result.failures
            }
            #expect(failures.isEmpty, "\(failures.count) of \(succeeded + failures.count) handshakes failed: \(Set(failures))")
            #expect(succeeded > 100, "\(succeeded) handshakes")
            let metrics = try await PrometheusScrape.read(stack.adminURL)
            let served = metrics.value("portico_gateway_handshakes_total", ["result": "accepted", "reason": "none", "status": "101"]) ?? 0
            #expect(served > 0, "the new process serves the handshakes once the old one is gone")
        }
    }

    /// `deploy/systemd/portico-gateway@.service`'s command, run as systemd runs it (`$$` is `$`):
    /// the first instance starts and writes the pid file, the second takes over from it (the first
    /// exits 0), the pid file then names the second, and is gone once the second stops.
    @Test func theSystemdInstancesTakeTurns() async throws {
        let unit = try String(
            contentsOf: DeploymentTests.repository.appendingPathComponent("deploy/systemd/portico-gateway@.service"),
            encoding: .utf8
        )
        let execStart = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }).dropFirst("ExecStart=".count)
        let runtime = FileManager.default.temporaryDirectory.appendingPathComponent("portico-run-\(UUID())")
        try FileManager.default.createDirectory(at: runtime, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: runtime) }
        let command = execStart.replacingOccurrences(of: "$$", with: "$")
            .replacingOccurrences(of: "/opt/portico/bin/gateway", with: ServiceProcess.binDirectory.appendingPathComponent("gateway").path)
            .replacingOccurrences(of: "/run/portico", with: runtime.path)
        let arguments = command.split(separator: " ", maxSplits: 2).map(String.init)
        try #require(arguments.count == 3 && arguments[0] == "/bin/sh" && arguments[1] == "-c", "\(command)")
        let script = String(arguments[2].dropFirst().dropLast())  // the quoted sh -c argument
        try await GatewayStack.run { stack in
            stack.gateway.terminate()
            _ = await stack.gateway.waitForExit(seconds: 15)
            let pidFile = runtime.appendingPathComponent("gateway.pid").path
            let first = try ServiceProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", script], environment: stack.environment)
            defer { first.terminate() }
            try await first.waitUntilReady("\(stack.adminURL)/health/ready")
            #expect(await eventually(within: 5) { (try? String(contentsOfFile: pidFile, encoding: .utf8)) == "\(first.process.processIdentifier)\n" })
            let second = try ServiceProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", script], environment: stack.environment)
            defer { second.terminate() }
            #expect(await first.waitForExit(seconds: 20) == 0, "\(first.output)")
            try await second.waitUntilReady("\(stack.adminURL)/health/ready")
            #expect((try? String(contentsOfFile: pidFile, encoding: .utf8)) == "\(second.process.processIdentifier)\n")
            let head = try await RawHandshake.perform(stack.gatewayURL, path: "/echowebsocket/1.0.0?access_token=\(stack.token)", headers: [])
            #expect(head.status == .switchingProtocols)
            // The last gateway to stop removes the file (the first left it: it named the second).
            second.terminate()
            #expect(await second.waitForExit(seconds: 20) == 0, "\(second.output)")
            #expect(!FileManager.default.fileExists(atPath: pidFile))
        }
    }

    /// Only `--replace` shares the ports: a second gateway started on a ws port in use (its other
    /// ports free) stops with the bind error instead of silently taking half the clients.
    @Test func aSecondGatewayOnAPortInUseStopsUnlessItReplaces() async throws {
        try await GatewayStack.run { stack in
            let second = try ServiceProcess(
                "gateway",
                environment: stack.environment.merging([
                    "GATEWAY_ADMIN_PORT": "\(ServiceProcess.freePort())", "GATEWAY_MANAGEMENT_PORT": "\(ServiceProcess.freePort())",
                    "GATEWAY_NODE_ID": "second",
                ]) { _, new in new }
            )
            let status = await second.waitForExit(seconds: 30)
            #expect(status != nil && status != 0, "\(second.output)")
            #expect(second.output.contains("Address already in use"), "\(second.output)")
            let first = try await RawHandshake.perform(stack.gatewayURL, path: "/echowebsocket/1.0.0?access_token=\(stack.token)", headers: [])
            #expect(first.status == .switchingProtocols, "the first gateway goes on")
        }
    }

    /// `--replace` signals only a gateway: another process is left alone and start-up stops with
    /// one line saying so; it needs the shared ports (`GATEWAY_REUSE_PORT`).
    @Test func replaceSignalsOnlyAGateway() async throws {
        let environment = TestSettings.values(try TestDatabase.serverURL(), extra: ["GATEWAY_PORT": "\(ServiceProcess.freePort())"])
        let notAGateway = try await CommandRun.run("gateway", ["serve", "--replace", "\(getpid())"], environment: environment)
        #expect(notAGateway.status == 64)
        #expect(notAGateway.stderr.contains("not a gateway; it was left alone"), "\(notAGateway.stderr)")
        let reusePortOff = try await CommandRun.run(
            "gateway",
            ["serve", "--replace", "\(getpid())"],
            environment: environment.merging(["GATEWAY_REUSE_PORT": "false"]) { _, new in new }
        )
        #expect(reusePortOff.status == 64 && reusePortOff.stderr.contains("--replace needs GATEWAY_REUSE_PORT=true"), "\(reusePortOff.stderr)")
    }

    /// A backend that pushes to a client that does not read gets 429 once the client's buffer is
    /// full, and the gateway's memory stays flat however long it insists: nothing is queued.
    @Test func pushesToAClientThatDoesNotReadAreRefusedNotQueued() async throws {
        try await GatewayStack.run { stack in
            let key = try #require(try await stack.publisherAPI.send(.post, "apis/\(stack.apiID)/connection-keys")["secret"].string)
            try await stack.settle()
            let stalled = try RawWebSocket(
                gatewayURL: stack.gatewayURL,
                path: "/echowebsocket/1.0.0?access_token=\(stack.token)",
                extensions: "x"
            )
            let id = try #require(stalled.responseHeaders["x-portico-connection-id"])
            let url = "\(stack.managementURL)/echowebsocket/1.0.0/@connections/\(id)"
            let message = String(repeating: "m", count: 100 * 1024)
            let headers = ["Authorization": "Bearer \(key)", "Content-Type": "text/plain"]
            let pid = stack.gateway.process.processIdentifier
            let before = try #require(ServiceProcess.residentKilobytes(of: pid))
            var peak = before
            var statuses: [Int: Int] = [:]
            // 600 pushes of 100 KiB: 60 MB the client never reads.
            for _ in 0..<600 {
                statuses[try await HTTP.send("POST", url, body: message, headers: headers).status, default: 0] += 1
                peak = max(peak, ServiceProcess.residentKilobytes(of: pid) ?? 0)
            }
            #expect((statuses[429] ?? 0) > 400, "\(statuses)")
            #expect(Set(statuses.keys).isSubset(of: [200, 429]), "\(statuses)")
            #expect(peak - before < 32 * 1024, "RSS grew from \(before) kB to \(peak) kB")
            let answer = try await HTTP.send("POST", url, body: "x", headers: headers)
            #expect(answer.status == 429 && HTTP.json(answer.body)["message"] == "LimitExceededException")
        }
    }

    @Test func aClientThatDoesNotReadCannotGrowTheGatewaysMemory() async throws {
        try await GatewayStack.run { stack in
            let before = try #require(ServiceProcess.residentKilobytes(of: stack.gateway.process.processIdentifier))
            // A raw client: it completes the handshake and then never reads.
            let stalled = try await RawHandshake.open(stack.gatewayURL, path: "/echowebsocket/1.0.0/flood?access_token=\(stack.token)")
            var peak = before
            for _ in 0..<30 {
                await pause(.milliseconds(100))
                peak = max(peak, ServiceProcess.residentKilobytes(of: stack.gateway.process.processIdentifier) ?? 0)
            }
            // The backend would send gigabytes in three seconds; the gateway holds about two
            // connection buffers (1 MiB each by default) and its socket buffers.
            #expect(peak - before < 64 * 1024, "RSS grew from \(before) kB to \(peak) kB")
            // …while the backend really did flood: the gateway relayed megabytes before it stopped reading.
            let metrics = try await PrometheusScrape.read(stack.adminURL)
            let relayed = metrics.value("portico_gateway_bytes_total", ["api": stack.apiID, "direction": "out"]) ?? 0
            #expect(relayed > 1_000_000, "\(metrics.text)")
            try await stalled.close()
        }
    }

    /// Finding 10: a gateway started before the schema exists waits quietly (one info line, no
    /// error), and a stop (SIGTERM, as Ctrl-C) logs no warning.
    @Test func aFirstStartAndAStopAreQuiet() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let ports = (0..<3).map { _ in ServiceProcess.freePort() }
            let environment = TestSettings.values(
                url,
                extra: [
                    "PUBLISHER_PORT": "\(ports[0])", "PORTICO_LOG_LEVEL": "info",
                    "GATEWAY_PORT": "\(ports[1])", "GATEWAY_ADMIN_PORT": "\(ports[2])", "GATEWAY_BIND_ADDRESS": "127.0.0.1",
                    "GATEWAY_MANAGEMENT_PORT": "\(ServiceProcess.freePort())",
                    "GATEWAY_DRAIN_SECONDS": "0", "GATEWAY_USAGE_FLUSH_INTERVAL_MS": "200", "GATEWAY_CONNECTION_LOG": "off",
                ]
            )
            let gateway = try ServiceProcess("gateway", environment: environment)
            defer { gateway.terminate() }
            #expect(await eventually(within: 20) { gateway.output.contains("waiting for the database schema") }, "\(gateway.output)")
            await pause(.seconds(1.5))
            let publisher = try ServiceProcess("publisher", environment: environment)
            defer { publisher.terminate() }
            try await gateway.waitUntilReady("http://127.0.0.1:\(ports[2])/health/ready")
            await pause(.milliseconds(500))
            gateway.terminate()
            #expect(await gateway.waitForExit(seconds: 30) == 0)
            let loud = gateway.output.split(separator: "\n").filter {
                $0.contains(" error ") || $0.contains(" warning ") || $0.contains(" critical ")
            }
            #expect(loud.isEmpty, "\(loud)")
            #expect(gateway.output.components(separatedBy: "waiting for the database schema").count == 2, "said once")
        }
    }
}

/// PostgreSQL goes away under a running gateway: it keeps serving from its last snapshot, says so
/// in /health/ready and its log, and catches up when PostgreSQL returns.
@Suite struct GatewayDatabaseOutageTests {
    @Test func servesFromTheLastSnapshotAndCatchesUp() async throws {
        let cluster = PrivateCluster()
        do {
            try await outage(cluster)
        } catch {
            await cluster.remove()
            throw error
        }
        await cluster.remove()
    }

    func outage(_ cluster: PrivateCluster) async throws {
        let url = try DatabaseURL(parsing: try await cluster.start())
        try await GatewayStack.run(database: url) { stack in
            func readiness() async throws -> String? {
                HTTP.json(try await HTTP.send("GET", "\(stack.adminURL)/health/ready").body)["status"].string
            }
            func until(_ status: String) async throws -> Bool {
                try await eventually(within: 15, every: .milliseconds(100)) { try await readiness() == status }
            }
            let open = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            #expect(try await readiness() == "UP")

            try await cluster.stop()
            #expect(try await until("DEGRADED"), "the gateway reports that it serves from its last snapshot")
            #expect(stack.gateway.output.contains("lost PostgreSQL"))
            try await open.socket.send("still relaying")
            #expect(await open.waitFor { $0.texts == ["still relaying"] })
            let fresh = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await fresh.socket.send("new handshake, no database")
            #expect(await fresh.waitFor { $0.texts == ["new handshake, no database"] })

            try await cluster.start()
            #expect(try await until("UP"), "the gateway reconnects")
            // A change made after the outage reaches the gateway: revoking the token closes both.
            try await stack.revoke(stack.token)
            #expect(await open.closeCode(within: 5) == .unknown(4001))
            #expect(await fresh.closeCode(within: 5) == .unknown(4001))
        }
    }
}

@Suite struct GatewayTLSTests {
    /// A self-signed certificate (its own CA) for localhost and 127.0.0.1: cert.pem and key.pem in
    /// a new directory, which `body` may use.
    static func withCertificate(_ body: (URL) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portico-tls-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", directory.appendingPathComponent("key.pem").path, "-out", directory.appendingPathComponent("cert.pem").path,
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0, "openssl could not make a certificate")
        try await body(directory)
    }

    @Test func wssWorksWithAConfiguredCertificate() async throws {
        try await Self.withCertificate { directory in
            try await Self.gatewayServesWss(directory)
        }
    }

    static func gatewayServesWss(_ directory: URL) async throws {
        let tlsPort = ServiceProcess.freePort()
        try await GatewayStack.run(extra: [
            "GATEWAY_TLS_PORT": "\(tlsPort)", "GATEWAY_TLS_CERT_FILE": directory.appendingPathComponent("cert.pem").path,
            "GATEWAY_TLS_KEY_FILE": directory.appendingPathComponent("key.pem").path,
        ]) { stack in
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            let client = try await TestClient.connect("wss://127.0.0.1:\(tlsPort)/echowebsocket/1.0.0?access_token=\(stack.token)", tls: tls)
            try await client.socket.send("secure hello")
            #expect(await client.waitFor { $0.texts == ["secure hello"] })
            try await client.socket.close()
        }
    }

    /// wss:// backends: verified against the system's roots by default (a self-signed backend is
    /// refused with 502), against the API's CA file when it names one (and still for the right
    /// host), and a CA file that cannot be read is a 502 that names it.
    @Test func wssBackendsAreVerified() async throws {
        try await Self.withCertificate { directory in
            let backendPort = ServiceProcess.freePort()
            let backend = try ServiceProcess(
                "echo-backend",
                [
                    "--host", "0.0.0.0", "--port", "\(backendPort)", "--tls-cert", directory.appendingPathComponent("cert.pem").path,
                    "--tls-key", directory.appendingPathComponent("key.pem").path,
                ],
                environment: [:]
            )
            defer { backend.terminate() }
            let caFile = directory.appendingPathComponent("cert.pem").path
            try await GatewayStack.run { stack in
                for (context, endpoint, ca) in [
                    ("/untrusted", "wss://localhost:\(backendPort)", nil), ("/trusted", "wss://localhost:\(backendPort)", caFile),
                    ("/byaddress", "wss://127.0.0.1:\(backendPort)", caFile), ("/otherhost", "wss://127.0.0.2:\(backendPort)", caFile),
                    ("/missing", "wss://localhost:\(backendPort)", "/nonexistent/ca.pem"),
                ] {
                    let id = try await stack.createAPI(
                        name: String(context.dropFirst()),
                        context: context,
                        version: "1",
                        endpoint: endpoint,
                        caFile: ca
                    )
                    try await stack.lifecycle(id, "Publish")
                    try await stack.subscribe(stack.applicationID, to: id)
                }
                try await stack.settle()
                for context in ["/trusted", "/byaddress"] {
                    let client = try await TestClient.connect("\(stack.gatewayURL)\(context)/1?access_token=\(stack.token)")
                    try await client.socket.send("over wss")
                    #expect(await client.waitFor { $0.texts == ["over wss"] }, "\(context)")
                    try await client.socket.close()
                }
                for context in ["/untrusted", "/otherhost", "/missing"] {
                    let (head, body) = try await RawHandshake.performReadingBody(stack.gatewayURL, path: "\(context)/1?access_token=\(stack.token)")
                    #expect(head.status.code == 502, "\(context)")
                    let message = body["message"].string ?? ""
                    #expect(body["code"].string == "backend_unreachable", "\(context): \(message)")
                    if context == "/missing" { #expect(message.contains("/nonexistent/ca.pem")) }
                }
            }
        }
    }
}
