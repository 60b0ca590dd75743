import Foundation
import NIOWebSocket
import PorticoCore
import PorticoTestSupport
import Testing
import WebSocketKit

/// Yandex API Gateway's WebSocket tutorial on Portico, through the built binaries: its spec,
/// verbatim (`Tests/Fixtures/yandex-websocket.yaml`), imported with the `portico` CLI, published and
/// subscribed; any message gets `{"connection_id":"…"}` from the `dummy` integration; then the
/// connection is read, sent to and disconnected with Yandex's management API and with the CLI.
@Suite struct YandexTutorialProcessTests {
    @Test func theYandexTutorialRunsOnPortico() async throws {
        try await GatewayStack.run { stack in
            let cli = CLISession()
            defer { cli.remove() }
            func portico(_ arguments: String..., input: String = "") async throws -> CommandRun { try await cli.run(arguments, input: input) }
            let login = try await cli.signInToPublisher(of: stack)
            #expect(login.status == 0, "\(login.stderr)")

            let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/yandex-websocket.yaml")
            let imported = try await portico(
                "apis",
                "import",
                "-f",
                spec.path,
                "--context",
                "/ws",
                "--version",
                "1.0.0",
                "--plans",
                "Gold",
                "-o",
                "json"
            )
            #expect(imported.status == 0, "\(imported.stderr)")
            let api = JSON(parsing: imported.stdout)
            let apiID = try #require(api["id"].string)
            #expect(api["name"] == "Test API")
            #expect(api["routes"][0]["routeKey"] == "$default")
            #expect(api["routes"][0]["integration"]["type"] == "MOCK")
            #expect(try await portico("apis", "publish", apiID, "-o", "json").status == 0)
            try await stack.subscribe(stack.applicationID, to: apiID)
            let keyReply = try await stack.publisherAPI.send(.post, "apis/\(apiID)/connection-keys")
            let key = try #require(keyReply["secret"].string)
            try await stack.settle()

            let client = try await TestClient.connect("\(stack.gatewayURL)/ws/1.0.0", headers: ["Authorization": "Bearer \(stack.token)"])
            try await client.socket.send("Hello!")
            #expect(await client.waitFor { !$0.texts.isEmpty })
            let id = try #require(JSON(parsing: client.texts.first ?? "")["connection_id"].string)

            // Yandex's management API: get, send, and (below) disconnect.
            let base = "\(stack.managementURL)/apigateways/websocket/v1/connections/\(id)"
            let auth = ["Authorization": "Bearer \(key)", "Content-Type": "application/json"]
            let (got, body) = try await HTTP.send("GET", base, headers: auth)
            #expect(got == 200)
            #expect(JSON(parsing: body)["id"].string == id)
            let hello = Data("Hello!".utf8).base64EncodedString()
            #expect(try await HTTP.send("POST", "\(base):send", body: #"{"data":"\#(hello)","type":"TEXT"}"#, headers: auth).status == 200)
            #expect(await client.waitFor { $0.texts.contains("Hello!") })

            // The same with the CLI (through the publisher, on whichever gateway holds it).
            #expect(try await portico("connections", "get", id, "--api", apiID, "-o", "json").status == 0)
            #expect(try await portico("connections", "send", id, "--api", apiID, "--data", "from the CLI").status == 0)
            #expect(await client.waitFor { $0.texts.contains("from the CLI") })
            #expect(try await HTTP.send("DELETE", base, headers: auth).status == 204)
            #expect(await client.closeCode(within: 5) == .normalClosure)

            // Unsupported parts of a spec are named, never dropped.
            let functions = try String(contentsOf: spec, encoding: .utf8).replacingOccurrences(of: "type: dummy", with: "type: cloud_functions")
            let refused = try await portico("apis", "import", "-f", "-", "--context", "/ws2", "--version", "1", input: functions)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("cloud_functions"), "\(refused.stderr)")
        }
    }
}
