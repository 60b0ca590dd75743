import Foundation
import PorticoCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

// Restart in place (`gateway serve --replace PID`): the new process loads the catalog, listens on
// the same ws and wss ports beside the old one (`ListeningSocket`, SO_REUSEPORT), then sends the
// old one SIGTERM; the old one steers new connections to it and drains. The admin and management
// listeners cannot be shared (another process's health is not this one's), so the new process
// opens them when the old one has exited (`AfterPredecessor`).

/// Another gateway process on this host, named by `gateway serve --replace PID`.
struct Predecessor: Sendable {
    let pid: Int32

    /// The process `pid`, when it runs and is a gateway; nil when there is no such process (a stale
    /// pid file: nothing to replace). A process that is not a gateway is an error: the gateway will
    /// not signal a process it does not know.
    static func find(_ pid: Int32) throws -> Predecessor? {
        guard pid > 1, pid != getpid() else { throw PredecessorError(message: "--replace \(pid) does not name another process") }
        guard isRunning(pid) else { return nil }
        let name = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard name == "gateway" else {
            // A process names itself: only its printable ASCII is repeated.
            let shown = name.map { "\"" + String($0.unicodeScalars.filter { (0x20..<0x7f).contains($0.value) }.prefix(16)) + "\"" }
            throw PredecessorError(message: "process \(pid) is \(shown ?? "unknown"), not a gateway; it was left alone")
        }
        return Predecessor(pid: pid)
    }

    /// Whether `pid` is a live process (not gone, not a zombie waiting for its parent).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: end)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    var isRunning: Bool { Self.isRunning(pid) }

    /// Asks it to drain and exit (its SIGTERM path).
    func stop() { kill(pid, SIGTERM) }
}

struct PredecessorError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Runs `service` once the predecessor has exited; returns at once if the gateway stops first.
struct AfterPredecessor: Service {
    let predecessor: Predecessor
    let service: any Service

    func run() async throws {
        while predecessor.isRunning {
            if Task.isShuttingDownGracefully { return }
            try await pause(for: .milliseconds(100))
        }
        try await service.run()
    }
}

/// `--pid-file`: the gateway's process id, for the next one's `--replace "$(cat FILE)"`.
struct PidFile {
    let path: String

    func write() {
        try? "\(getpid())\n".write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Removes the file unless a successor has written its own pid there meanwhile.
    func remove() {
        guard let content = try? String(contentsOfFile: path, encoding: .utf8),
            content.trimmingCharacters(in: .whitespacesAndNewlines) == "\(getpid())"
        else { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}
