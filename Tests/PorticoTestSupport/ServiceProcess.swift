import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// A built Portico binary run as its own process, as a user would run it.
package final class ServiceProcess: @unchecked Sendable {
    package let process = Process()
    package let outputFile: URL

    /// Where `make test` put the binaries (`PORTICO_BIN_DIR`), else the debug build folder.
    package static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["PORTICO_BIN_DIR"] {
            return URL(fileURLWithPath: dir)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug")
    }

    /// Starts the built `binary` with `arguments` and exactly `environment` (plus PATH).
    package convenience init(_ binary: String, _ arguments: [String] = [], environment: [String: String]) throws {
        try self.init(executable: Self.binDirectory.appendingPathComponent(binary), arguments, environment: environment)
    }

    /// Starts any executable; its output goes to a file (a pipe could be held open by its children).
    package init(executable: URL, _ arguments: [String] = [], environment: [String: String]) throws {
        outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("portico-\(executable.lastPathComponent)-\(UUID()).log")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: outputFile)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment.merging(["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]) { a, _ in a }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: outputFile)
    }

    /// Sends SIGKILL: what stops a helper that does not unblock signals itself (a child inherits
    /// the test process's blocked SIGTERM, and the test process's open sockets with it).
    package func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    /// Everything the process wrote to standard output and standard error so far.
    package var output: String {
        (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
    }

    /// Waits for the process to exit, at most `seconds`; returns its exit status (nil on time-out).
    package func waitForExit(seconds: Double) async -> Int32? {
        await eventually(within: seconds) { !process.isRunning }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Sends SIGTERM.
    package func terminate() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGTERM) }
    }

    /// Polls `url` until it answers 200, at most `seconds`.
    package func waitUntilReady(_ url: String, seconds: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard process.isRunning else {
                throw TestSetupError("the process exited with \(process.terminationStatus) before it was ready:\n\(output)")
            }
            if let (status, _) = try? await HTTP.send("GET", url), status == 200 { return }
            await pause(.milliseconds(100))
        }
        throw TestSetupError("not ready after \(seconds) s:\n\(output)")
    }

    /// The resident set size of a process in kB (`VmRSS` in `/proc/PID/status`).
    package static func residentKilobytes(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }

    /// A TCP port that nothing listens on right now, for a service a test starts. Ports come from
    /// below the kernel's ephemeral range (32768 up), so that no outgoing connection of a test
    /// running in parallel takes one before the service binds it, and never twice in one run.
    package static func freePort() -> Int {
        while true {
            let port = nextPort.withLock { next in
                defer { next = next >= 32_000 ? 20_000 : next + 1 }
                return next
            }
            if canBind(port) { return port }
        }
    }

    private static let nextPort = Mutex(20_000 + Int(getpid() % 1000) * 12)

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = INADDR_ANY
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// A plain HTTP client over real sockets (AsyncHTTPClient, not the project's own HTTP code;
/// Foundation's URLSession async API hung on this toolchain under Swift Testing).
package enum HTTP {
    package static func send(
        _ method: String,
        _ url: String,
        body: String? = nil,
        headers: [String: String] = [:]
    ) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            if headers["Content-Type"] == nil { request.headers.add(name: "Content-Type", value: "application/json") }
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return (Int(response.status.code), Data(bytes.readableBytesView))
    }

    package static func basic(_ user: String, _ password: String) -> [String: String] {
        ["Authorization": "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()]
    }

    package static func json(_ data: Data) -> JSON {
        JSON(parsing: data)
    }

    /// One request as a `Reply` (the REST tests' answer type).
    package static func reply(_ method: HTTPRequest.Method, _ url: String, headers: HTTPFields, body: ByteBuffer?) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method.rawValue)
        for field in headers { request.headers.add(name: field.name.rawName, value: field.value) }
        if let body { request.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        var fields = HTTPFields()
        for (name, value) in response.headers { if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) } }
        return Reply(status: .init(code: Int(response.status.code)), headers: fields, body: Data(bytes.readableBytesView))
    }
}
