import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL cluster of a test's own, made and driven by `scripts/postgres.sh` exactly as
/// `make run` does, so that a test can stop the database under running services and start it again.
package final class PrivateCluster: Sendable {
    package let directory: URL
    package let port: Int

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/postgres.sh")
    }

    package init() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portico-cluster-\(UUID())")
        port = ServiceProcess.freePort()
    }

    /// Creates the cluster (first time) and starts it; returns the URL of its `portico` database.
    @discardableResult
    package func start() async throws -> String {
        let output = try await run(["start", directory.path, "\(port)", "--throwaway"])
        guard let url = output.split(separator: "\n").last(where: { $0.hasPrefix("postgres://") }) else {
            throw TestSetupError("postgres.sh start printed no URL:\n\(output)")
        }
        return String(url)
    }

    /// Stops the server (fast shutdown: connected clients are cut off).
    package func stop() async throws {
        _ = try await run(["stop", directory.path])
    }

    /// Stops the server if it runs and removes its files.
    package func remove() async {
        _ = try? await run(["stop", directory.path])
        let target = directory.resolvingSymlinksInPath()
        try? FileManager.default.removeItem(at: directory)
        try? FileManager.default.removeItem(at: target)
    }

    /// Runs the script with posix_spawn and its output in a file. Foundation's Process is not used:
    /// it learns that a child ended from a descriptor the child inherits, and the server the script
    /// starts inherits it too, so Process would wait for as long as the server runs.
    private func run(_ arguments: [String]) async throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("portico-postgres-sh-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // The test runner may block signals; its children would inherit that.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = (["/bin/bash", Self.script.path] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let path = "PATH=" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let environment: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
        defer { for variable in environment { free(variable) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, &attributes, argv, environment)
        guard spawned == 0 else { throw TestSetupError("cannot start postgres.sh: error \(spawned)") }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(180)
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard Date() < deadline else {
                kill(pid, SIGKILL)
                throw TestSetupError("postgres.sh \(arguments.joined(separator: " ")) did not finish")
            }
            await pause(.milliseconds(50))
        }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        guard status & 0x7F == 0, (status >> 8) & 0xFF == 0 else {
            throw TestSetupError("postgres.sh \(arguments.joined(separator: " ")) failed (wait status \(status)):\n\(output)")
        }
        return output
    }
}
