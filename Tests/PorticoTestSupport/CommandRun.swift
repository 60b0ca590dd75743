import Foundation

/// A command-line tool run to completion as a user runs it: its arguments, exactly `environment`
/// (plus PATH), `input` on standard input, and its standard output and error apart.
package struct CommandRun: Sendable {
    package let status: Int32
    package let stdout: String
    package let stderr: String

    /// One of Portico's binaries (`ServiceProcess.binDirectory`).
    package static func run(
        _ binary: String,
        _ arguments: [String],
        environment: [String: String],
        input: String = "",
        timeout: Double = 60
    ) async throws -> CommandRun {
        try await run(
            executable: ServiceProcess.binDirectory.appendingPathComponent(binary),
            arguments,
            environment: environment,
            input: input,
            timeout: timeout
        )
    }

    package static func run(
        executable: URL,
        _ arguments: [String],
        environment: [String: String],
        input: String = "",
        timeout: Double = 60
    ) async throws -> CommandRun {
        let binary = executable.lastPathComponent
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("portico-run-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (inFile, outFile, errFile) = (
            folder.appendingPathComponent("in"), folder.appendingPathComponent("out"), folder.appendingPathComponent("err")
        )
        try Data(input.utf8).write(to: inFile)
        for file in [outFile, errFile] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment.merging(["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]) { a, _ in a }
        process.standardInput = try FileHandle(forReadingFrom: inFile)
        process.standardOutput = try FileHandle(forWritingTo: outFile)
        process.standardError = try FileHandle(forWritingTo: errFile)
        try process.run()
        guard await eventually(within: timeout, every: .milliseconds(20), { !process.isRunning }) else {
            process.terminate()
            throw TestSetupError("\(binary) \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
        }
        return CommandRun(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: outFile, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
        )
    }
}
