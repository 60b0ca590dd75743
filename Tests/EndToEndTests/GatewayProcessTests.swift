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

/// The gateway as users meet it: the built binaries, real sockets, real PostgreSQL, and a
/// WebSocket client library that is not Portico's (websocket-kit).
@Suite(.serialized) struct GatewayProcessTests {
    @Test func referenceFlowWithHeaderAndQueryTokensAndDefaultVersion() async throws {
        try await GatewayStack.run { stack in
            for (url, headers) in [
                ("\(stack.gatewayURL)/echowebsocket/1.0.0", HTTPHeaders([("Authorization", "Bearer \(stack.token)")])),
                ("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)", HTTPHeaders()),
                ("\(stack.gatewayURL)/echowebsocket", HTTPHeaders([("authorization", "bearer \(stack.token)")])),
            ] {
                let client = try await TestClient.connect(url, headers: headers)
                try await client.socket.send("hello through Portico")
                try await client.socket.send(raw: [1, 2, 3, 255], opcode: .binary)
                #expect(await client.waitFor { $0.texts == ["hello through Portico"] && $0.binary == [[1, 2, 3, 255]] }, "\(url)")
                try await client.socket.close(code: .normalClosure)
            }
        }
    }

    @Test func backendSeesTheForwardedHandshakeButNeverTheToken() async throws {
        try await GatewayStack.run { stack in
            let client = try await TestClient.connect(
                "\(stack.gatewayURL)/echowebsocket/1.0.0/inspect/deeper?room=7&access_token=\(stack.token)&x=a%20b",
                headers: HTTPHeaders([("Sec-WebSocket-Protocol", "stomp, mqtt"), ("X-Portico-Subscriber", "forged"), ("X-Custom", "kept")]))
            #expect(await client.waitFor { !$0.texts.isEmpty })
            let first = try #require(client.texts.first)
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
            let headers = try #require(seen["headers"] as? [String: String])
            #expect(seen["path"] as? String == "/inspect/deeper")
            #expect(seen["query"] as? String == "room=7&x=a%20b")
            #expect(headers["authorization"] == nil)
            #expect(!first.contains(stack.token))
            #expect(headers["x-custom"] == "kept")
            #expect(headers["sec-websocket-protocol"] == "stomp, mqtt")
            #expect(headers["x-forwarded-for"] == "127.0.0.1")
            #expect(headers["x-forwarded-proto"] == "ws")
            #expect(headers["x-forwarded-host"]?.hasPrefix("127.0.0.1") == true)
            #expect(headers["x-portico-subscriber"] == "dev", "a client cannot forge identity headers")
            #expect(headers["x-portico-application-id"] == stack.applicationID)
            #expect(headers["x-portico-application-name"] == "EchoClient")
            #expect(headers["x-portico-key-type"] == "PRODUCTION")
            #expect(headers["x-portico-connection-id"]?.count == 36)
            try await client.socket.close()
        }
    }

    @Test func subprotocolChoiceComesBackAndTheConnectionIdIsReturned() async throws {
        try await GatewayStack.run { stack in
            let response = try await RawHandshake.perform(
                stack.gatewayURL, path: "/echowebsocket/1.0.0",
                headers: [("Authorization", "Bearer \(stack.token)"), ("Sec-WebSocket-Protocol", "stomp, mqtt")])
            #expect(response.status.code == 101)
            #expect(response.headers.first(name: "Sec-WebSocket-Protocol") == "stomp")
            #expect(response.headers.first(name: "X-Portico-Connection-Id")?.count == 36)
            let refused = try await RawHandshake.perform(stack.gatewayURL, path: "/echowebsocket/1.0.0", headers: [])
            #expect(refused.status.code == 401)
            #expect(refused.headers.first(name: "WWW-Authenticate")?.hasPrefix(#"Bearer realm="portico", error="invalid_token""#) == true)
        }
    }

    @Test func everyRefusalHasItsStatus() async throws {
        try await GatewayStack.run { stack in
            let base = "\(stack.gatewayURL)/echowebsocket/1.0.0"
            func bearer(_ token: String) -> HTTPHeaders { HTTPHeaders([("Authorization", "Bearer \(token)")]) }
            #expect(await TestClient.refusal(base) == 401, "missing")
            #expect(await TestClient.refusal("\(base)?access_token=") == 401, "empty query token")
            #expect(await TestClient.refusal(base, headers: HTTPHeaders([("Authorization", "Basic YTpi")])) == 401, "not bearer")
            #expect(await TestClient.refusal(base, headers: bearer("not.a.jwt")) == 401, "malformed")
            let parts = stack.token.split(separator: ".")
            #expect(await TestClient.refusal(base, headers: bearer("\(parts[0]).\(parts[1]).AAAA")) == 401, "bad signature")
            let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URLEncodedForTest
            #expect(await TestClient.refusal(base, headers: bearer("\(none).\(parts[1]).")) == 401, "alg none")
            let hs = Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8).base64URLEncodedForTest
            #expect(await TestClient.refusal(base, headers: bearer("\(hs).\(parts[1]).\(parts[2])")) == 401, "HS256")
            #expect(await TestClient.refusal("\(stack.gatewayURL)/nothing/1.0.0", headers: bearer(stack.token)) == 404)

            // Not subscribed: a second application of the same developer.
            let other = try await stack.createApplication("Unsubscribed")
            let (_, _, otherToken) = try await stack.keys(for: other, type: "PRODUCTION")
            try await stack.settle()
            #expect(await TestClient.refusal(base, headers: bearer(otherToken)) == 403)
            // A sandbox token, but the API has no sandbox endpoint.
            let (_, _, sandboxToken) = try await stack.keys(for: stack.applicationID, type: "SANDBOX")
            try await stack.settle()
            #expect(await TestClient.refusal(base, headers: bearer(sandboxToken)) == 403)
            // A CREATED API is not served.
            _ = try await stack.createAPI(name: "Draft", context: "/draft", version: "1")
            try await stack.settle()
            #expect(await TestClient.refusal("\(stack.gatewayURL)/draft/1", headers: bearer(stack.token)) == 404)
            // Not an upgrade.
            let (status, body) = try await HTTP.send("GET", base.replacingOccurrences(of: "ws://", with: "http://"), headers: ["Authorization": "Bearer \(stack.token)"])
            #expect(status == 426)
            #expect(HTTP.json(body)["code"] as? String == "upgrade_required")
        }
    }

    @Test func blockedAPIsAre503AndPrototypesNeedNoSubscription() async throws {
        try await GatewayStack.run { stack in
            let proto = try await stack.createAPI(name: "Proto", context: "/proto", version: "1")
            try await stack.lifecycle(proto, "Deploy as a Prototype")
            try await stack.lifecycle(stack.apiID, "Block")
            try await stack.settle()
            let bearer = HTTPHeaders([("Authorization", "Bearer \(stack.token)")])
            #expect(await TestClient.refusal("\(stack.gatewayURL)/echowebsocket/1.0.0", headers: bearer) == 503)
            #expect(await TestClient.refusal("\(stack.gatewayURL)/proto/1", headers: bearer) == 101)
        }
    }

    @Test func closeCodesTravelBothWays() async throws {
        try await GatewayStack.run { stack in
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await client.socket.close(code: .unknown(4321))
            // The echo backend answers the close with the code it received.
            #expect(await client.closeCode(within: 5) == .unknown(4321))
        }
    }

    @Test func largeAndFragmentedMessagesArriveWhole() async throws {
        try await GatewayStack.run { stack in
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            let big = [UInt8](repeating: 0x5a, count: 1_048_576)
            try await client.socket.send(raw: big, opcode: .binary)
            try await client.socket.send(raw: Array("frag".utf8), opcode: .text, fin: false)
            try await client.socket.send(raw: Array("ment".utf8), opcode: .continuation, fin: true)
            #expect(await client.waitFor(seconds: 10) { $0.binary.first?.count == big.count && $0.texts == ["fragment"] })
            try await client.socket.close()
        }
    }

    @Test func liveChangesCloseConnectionsWithinASecond() async throws {
        try await GatewayStack.run { stack in
            let revoked = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await stack.revoke(stack.token)
            #expect(await revoked.closeCode(within: 1.5) == .unknown(4001))

            let (status, body) = try await HTTP.send("POST", "\(stack.devportalURL)/oauth2/token", body: "grant_type=client_credentials",
                headers: HTTP.basic(stack.consumerKey, stack.consumerSecret).merging(["Content-Type": "application/x-www-form-urlencoded"]) { a, _ in a })
            #expect(status == 200)
            let fresh = try #require(HTTP.json(body)["access_token"] as? String)
            let blocked = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(fresh)")
            let (_, subscriptions) = try await HTTP.send("GET", "\(stack.publisherURL)/subscriptions?apiId=\(stack.apiID)", headers: stack.admin)
            let subscriptionID = try #require((HTTP.json(subscriptions)["list"] as? [[String: Any]])?.first?["subscriptionId"] as? String)
            #expect(try await HTTP.send("POST", "\(stack.publisherURL)/subscriptions/block-subscription?subscriptionId=\(subscriptionID)&blockState=BLOCKED",
                                        headers: stack.admin).status == 200)
            #expect(await blocked.closeCode(within: 1.5) == .unknown(4002))
        }
    }

    @Test func aVanishedBackendClosesTheClientWith1011() async throws {
        try await GatewayStack.run { stack in
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await client.socket.send("ping")
            #expect(await client.waitFor { $0.texts == ["ping"] })
            stack.echo.process.terminate()
            kill(stack.echo.process.processIdentifier, SIGKILL)
            #expect(await client.closeCode(within: 3) == .unexpectedServerError)
            #expect(await TestClient.refusal("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)") == 502,
                    "a backend that is down is 502 at once")
        }
    }

    /// A backend whose first frame comes in the same TCP segment as its 101: the frame reaches
    /// the client although no later read of the backend's socket flushes it.
    @Test func aFrameThatArrivesWithTheBackends101IsRelayed() async throws {
        let backend = try ServerSocket { request in
            Array(ServerSocket.switchingProtocols(to: request).utf8) + [0x81, 5] + Array("first".utf8)
        }
        try await GatewayStack.run { stack in
            let api = try await stack.createAPI(name: "Eager", context: "/eager", version: "1", endpoint: "ws://127.0.0.1:\(backend.port)")
            try await stack.lifecycle(api, "Publish")
            try await stack.subscribe(stack.applicationID, to: api)
            try await stack.settle()
            let client = try await TestClient.connect("\(stack.gatewayURL)/eager/1?access_token=\(stack.token)")
            #expect(await client.waitFor(seconds: 3) { $0.texts == ["first"] })
            try? await client.socket.close()
        }
    }

    @Test func aSilentBackendIs504() async throws {
        // A listener that accepts connections and never answers.
        let silent = try ServerSocket()
        try await GatewayStack.run(extra: ["GATEWAY_BACKEND_CONNECT_TIMEOUT": "1"]) { stack in
            let api = try await stack.createAPI(name: "Silent", context: "/silent", version: "1", endpoint: "ws://127.0.0.1:\(silent.port)")
            try await stack.lifecycle(api, "Publish")
            try await stack.subscribe(stack.applicationID, to: api)
            try await stack.settle()
            let started = Date()
            #expect(await TestClient.refusal("\(stack.gatewayURL)/silent/1?access_token=\(stack.token)") == 504)
            #expect(Date().timeIntervalSince(started) < 5)
        }
        _ = silent
    }

    @Test func sigtermDrainsAndExitsZero() async throws {
        try await GatewayStack.run { stack in
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            // The 101 leaves before the gateway registers the connection: a SIGTERM in between would find none to drain.
            try await stack.waitForActiveConnections(1)
            stack.gateway.terminate()
            #expect(await client.closeCode(within: 10) == .goingAway)
            #expect(await stack.gateway.waitForExit(seconds: 15) == 0)
        }
    }
}

extension Data {
    var base64URLEncodedForTest: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// More of the gateway's promises: expiry, a vanished client, a flood into a client that does not
/// read, and wss.
@Suite(.serialized) struct GatewayLifetimeTests {
    @Test func aTokenReachingItsExpiryClosesTheConnectionWith4001() async throws {
        try await GatewayStack.run(extra: ["GATEWAY_TOKEN_LEEWAY": "0"]) { stack in
            let keys = try await HTTP.send("GET", "\(stack.devportalURL)/api/am/devportal/v3/applications/\(stack.applicationID)/oauth-keys",
                                           headers: stack.dev).body
            let mapping = try #require((HTTP.json(keys)["list"] as? [[String: Any]])?.first?["keyMappingId"] as? String)
            let (_, body) = try await HTTP.send(
                "POST", "\(stack.devportalURL)/api/am/devportal/v3/applications/\(stack.applicationID)/oauth-keys/\(mapping)/generate-token",
                body: #"{"consumerSecret":"\#(stack.consumerSecret)","validityPeriod":2}"#, headers: stack.dev)
            let shortLived = try #require(HTTP.json(body)["accessToken"] as? String)
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(shortLived)")
            #expect(await client.closeCode(within: 5) == .unknown(4001))
        }
    }

    @Test func aVanishedClientClosesTheBackendWith1001() async throws {
        try await GatewayStack.run { stack in
            let client = try await RawHandshake.open(stack.gatewayURL, path: "/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await stack.waitForActiveConnections(1)
            // Drop the TCP connection without a close frame.
            try await client.close()
            #expect(await stack.echoPrinted("close 1001 client went away", within: 3), "\(stack.echo.output)")
        }
    }

    @Test func aClientThatDoesNotReadCannotGrowTheGatewaysMemory() async throws {
        try await GatewayStack.run { stack in
            let before = try #require(ServiceProcess.residentKilobytes(of: stack.gateway.process.processIdentifier))
            // A raw client: it completes the handshake and then never reads.
            let stalled = try await RawHandshake.open(stack.gatewayURL, path: "/echowebsocket/1.0.0/flood?access_token=\(stack.token)")
            var peak = before
            for _ in 0..<30 {
                try await Task.sleep(for: .milliseconds(100))
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
                HTTP.json(try await HTTP.send("GET", "\(stack.adminURL)/health/ready").body)["status"] as? String
            }
            func until(_ status: String) async throws -> Bool {
                for _ in 0..<150 where try await readiness() != status { try await Task.sleep(for: .milliseconds(100)) }
                return try await readiness() == status
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
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                             "-keyout", directory.appendingPathComponent("key.pem").path, "-out", directory.appendingPathComponent("cert.pem").path]
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
            let backend = try ServiceProcess("echo-backend", [
                "--host", "0.0.0.0", "--port", "\(backendPort)", "--tls-cert", directory.appendingPathComponent("cert.pem").path,
                "--tls-key", directory.appendingPathComponent("key.pem").path,
            ], environment: [:])
            defer { backend.terminate() }
            let caFile = directory.appendingPathComponent("cert.pem").path
            try await GatewayStack.run { stack in
                for (context, endpoint, ca) in [
                    ("/untrusted", "wss://localhost:\(backendPort)", nil), ("/trusted", "wss://localhost:\(backendPort)", caFile),
                    ("/byaddress", "wss://127.0.0.1:\(backendPort)", caFile), ("/otherhost", "wss://127.0.0.2:\(backendPort)", caFile),
                    ("/missing", "wss://localhost:\(backendPort)", "/nonexistent/ca.pem"),
                ] {
                    let id = try await stack.createAPI(name: String(context.dropFirst()), context: context, version: "1", endpoint: endpoint,
                                                       caFile: ca)
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
                    let message = body["message"] as? String ?? ""
                    #expect(body["code"] as? String == "backend_unreachable", "\(context): \(message)")
                    if context == "/missing" { #expect(message.contains("/nonexistent/ca.pem")) }
                }
            }
        }
    }
}

/// Every change a provider or developer makes acts on open connections, within a second.
@Suite struct GatewayLiveChangeTests {
    static func open(_ stack: GatewayStack, token: String? = nil, path: String = "/echowebsocket/1.0.0") async throws -> TestClient {
        try await TestClient.connect("\(stack.gatewayURL)\(path)?access_token=\(token ?? stack.token)")
    }

    @Test func eachWithdrawalClosesWithItsCode() async throws {
        try await GatewayStack.run { stack in
            // The API is blocked, then published again.
            var client = try await Self.open(stack)
            try await stack.lifecycle(stack.apiID, "Block")
            #expect(await client.closeCode(within: 1.5) == .unknown(4002), "blocked API")
            try await stack.lifecycle(stack.apiID, "Re-Publish")
            try await stack.settle()

            // The developer unsubscribes, then subscribes again.
            client = try await Self.open(stack)
            let (_, list) = try await HTTP.send("GET", "\(stack.devportalURL)/api/am/devportal/v3/subscriptions?applicationId=\(stack.applicationID)",
                                                headers: stack.dev)
            let subscription = try #require((HTTP.json(list)["list"] as? [[String: Any]])?.first?["subscriptionId"] as? String)
            #expect(try await HTTP.send("DELETE", "\(stack.devportalURL)/api/am/devportal/v3/subscriptions/\(subscription)",
                                        headers: stack.dev).status == 204)
            #expect(await client.closeCode(within: 1.5) == .unknown(4002), "deleted subscription")
            try await stack.subscribe(stack.applicationID, to: stack.apiID)
            try await stack.settle()

            // Deprecation keeps subscribers connected; retirement does not.
            client = try await Self.open(stack)
            try await stack.lifecycle(stack.apiID, "Deprecate")
            try await stack.settle()
            try await client.socket.send("still here")
            #expect(await client.waitFor { $0.texts == ["still here"] }, "a subscriber keeps a deprecated API")
            try await stack.lifecycle(stack.apiID, "Retire")
            #expect(await client.closeCode(within: 1.5) == .unknown(4002), "retired API")

            // Deleting an application ends its connections (and revokes its tokens).
            let api = try await stack.createAPI(name: "Second", context: "/second", version: "1")
            try await stack.lifecycle(api, "Publish")
            let app = try await stack.createApplication("Doomed")
            try await stack.subscribe(app, to: api)
            let (_, _, token) = try await stack.keys(for: app, type: "PRODUCTION")
            try await stack.settle()
            client = try await Self.open(stack, token: token, path: "/second/1")
            #expect(try await HTTP.send("DELETE", "\(stack.devportalURL)/api/am/devportal/v3/applications/\(app)", headers: stack.dev).status == 204)
            #expect(await client.closeCode(within: 1.5) == .unknown(4002), "deleted application")
        }
    }
}
