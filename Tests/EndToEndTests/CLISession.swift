import Foundation
import PorticoTestSupport
import Testing

/// The `portico` CLI as a user runs it: a profile folder of its own (removed by `remove`), and
/// every command run to completion with that folder as its configuration home.
struct CLISession {
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("portico-cli-\(UUID())")

    var environment: [String: String] { ["XDG_CONFIG_HOME": home.path, "HOME": home.path] }

    func run(_ arguments: [String], input: String = "") async throws -> CommandRun {
        try await CommandRun.run("portico", arguments, environment: environment, input: input)
    }

    /// A command that must succeed: its standard output as JSON.
    func ok(_ run: CommandRun, sourceLocation: SourceLocation = #_sourceLocation) -> JSON {
        #expect(run.status == 0, "\(run.stderr)", sourceLocation: sourceLocation)
        return JSON(parsing: run.stdout)
    }

    /// Signs the CLI in to `stack`'s publisher as the admin (the password on standard input).
    func signInToPublisher(of stack: GatewayStack) async throws -> CommandRun {
        let publisher = stack.publisherURL.replacingOccurrences(of: "/api/am/publisher/v4", with: "")
        return try await run(["login", "publisher", publisher, "--username", "admin", "--password-stdin"], input: TestSettings.adminPassword + "\n")
    }

    func remove() {
        try? FileManager.default.removeItem(at: home)
    }
}
