import Foundation
import NIOWebSocket
import PorticoTestSupport
import Testing
import WebSocketKit

/// The `portico` binary, driven as a user drives it: the walk-through to a token, then the live
/// connection commands, and bad input answered with one line and a non-zero exit.
@Suite struct CLIProcessTests {
    @Test func theWalkThroughAndConnectionCommands() async throws {
        try await GatewayStack.run { stack in
            let cli = CLISession()
            defer { cli.remove() }
            let home = cli.home
            func portico(_ arguments: String..., input: String = "") async throws -> CommandRun { try await cli.run(arguments, input: input) }
            func ok(_ run: CommandRun, sourceLocation: SourceLocation = #_sourceLocation) -> JSON { cli.ok(run, sourceLocation: sourceLocation) }
            let publisher = stack.publisherURL.replacingOccurrences(of: "/api/am/publisher/v4", with: "")

            let login = try await cli.signInToPublisher(of: stack)
            #expect(login.status == 0, "\(login.stderr)")
            let file = home.appendingPathComponent("portico/profiles.json")
            let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let stored = try String(contentsOf: file, encoding: .utf8)
            #expect(stored.contains("pat_") && !stored.contains(TestSettings.adminPassword), "a token, never the password")

            let design = home.appendingPathComponent("cli.json")
            try Data(
                #"{"name":"CLIEcho","context":"/cliecho","version":"1.0.0","policies":["Gold"],"endpointConfig":{"production_endpoints":{"url":"ws://127.0.0.1:\#(stack.echoPort)"}}}"#
                    .utf8
            ).write(to: design)
            let apiID = try #require(ok(try await portico("apis", "create", "-f", design.path, "-o", "json"))["id"].string)
            #expect(ok(try await portico("apis", "publish", apiID, "-o", "json"))["lifecycleState"]["state"] == "PUBLISHED")
            let table = try await portico("apis", "list", "-o", "table")
            #expect(table.stdout.hasPrefix("ID") && table.stdout.contains("CLIEcho"), "\(table.stdout)")

            let devportal = try await portico(
                "login",
                "devportal",
                stack.devportalURL,
                "--username",
                "dev",
                "--password-stdin",
                input: "password-1\n"
            )
            #expect(devportal.status == 0, "\(devportal.stderr)")
            let appID = try #require(ok(try await portico("apps", "create", "CLIClient", "-o", "json"))["applicationId"].string)
            _ = ok(try await portico("subscribe", apiID, appID, "--plan", "Gold", "-o", "json"))
            #expect(ok(try await portico("keys", "generate", appID, "-o", "yaml")).isNull, "YAML is not JSON")
            let token = try await portico("token", appID)
            #expect(token.status == 0 && token.stdout.split(separator: ".").count == 3, "\(token.stderr)")
            try await stack.settle()

            let client = try await TestClient.connect(
                "\(stack.gatewayURL)/cliecho/1.0.0/inspect?access_token=\(token.stdout.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
            #expect(await client.waitFor { !$0.texts.isEmpty })
            let id = try #require(JSON(parsing: client.texts[0])["headers"]["x-portico-connection-id"].string)
            #expect(
                try await eventually(within: 5) { JSON(parsing: try await portico("connections", "list", apiID, "-o", "json").stdout)["count"] == 1 }
            )
            #expect(ok(try await portico("connections", "get", id, "--api", apiID, "-o", "json"))["applicationName"] == "CLIClient")
            _ = ok(try await portico("connections", "send", id, "--api", apiID, "--data", "from the CLI"))
            _ = ok(try await portico("connections", "send", id, "--api", apiID, "--stdin", input: "line one\nline two\n"))
            #expect(await client.waitFor { $0.texts.suffix(3) == ["from the CLI", "line one", "line two"] }, "\(client.texts)")
            _ = ok(try await portico("connections", "disconnect", id, "--api", apiID, "--code", "4000", "--reason", "bye"))
            #expect(await client.closeCode(within: 5) == WebSocketErrorCode(codeNumber: 4000))

            // Bad input: one clear line on standard error, exit 1.
            let missing = try await portico("apis", "get", "no-such-api")
            #expect(
                missing.status == 1 && missing.stderr.hasPrefix("portico: 404") && missing.stderr.split(separator: "\n").count == 1,
                "\(missing.stderr)"
            )
            let wrong = try await portico("login", "publisher", publisher, "--username", "admin", "--password-stdin", input: "wrong\n")
            #expect(wrong.status == 1 && wrong.stderr.hasPrefix("portico: 401"), "\(wrong.stderr)")
            let nobody = try await portico("apis", "list", "--profile", "nobody")
            #expect(nobody.status == 1 && nobody.stderr.contains("not logged in"), "\(nobody.stderr)")

            #expect(try await portico("logout").status == 0)
            let after = try await portico("apis", "list")
            #expect(after.status == 1 && after.stderr.contains("not logged in"), "\(after.stderr)")
        }
    }
}
