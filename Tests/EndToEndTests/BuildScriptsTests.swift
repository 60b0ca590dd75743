import Foundation
import Testing

/// How the project's make targets and scripts build: every build goes through
/// `scripts/swift-build.sh`, which keeps SwiftPM's trait flags in one order (a bare `swift build`
/// after a build of another kind compiles swift-protobuf and Hummingbird again, a minute each time),
/// and the deterministic hashing that needs stays with the build: nothing that starts a service sets it.
@Suite struct BuildScriptsTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let wrapper = "scripts/swift-build.sh"

    /// The Makefile and every script, by their paths in the repository.
    static func buildFiles() throws -> [(path: String, text: String)] {
        let scripts = try FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("scripts").path)
            .filter { $0.hasSuffix(".sh") }
            .map { "scripts/\($0)" }
        return try (["Makefile", ".ci/run"] + scripts.sorted()).map { path in
            (path, try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8))
        }
    }

    /// The lines that run a command (comments left out).
    static func commandLines(_ text: String) -> [String] {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") }
    }

    @Test func everyBuildGoesThroughTheWrapper() throws {
        for (path, text) in try Self.buildFiles() where path != Self.wrapper {
            for line in Self.commandLines(text) where line.contains("swift build") {
                // Asking for the binaries' folder builds nothing.
                #expect(line.contains("--show-bin-path"), "\(path) builds without \(Self.wrapper): \(line)")
            }
        }
    }

    @Test func onlyTheBuildHashesDeterministically() throws {
        let files = try Self.buildFiles()
        let setting = files.filter { $0.text.contains("SWIFT_DETERMINISTIC_HASHING") }.map(\.path)
        #expect(setting == [Self.wrapper])
        let wrapper = try #require(files.first { $0.path == Self.wrapper })
        let commands = Self.commandLines(wrapper.text).filter { $0.contains("SWIFT_DETERMINISTIC_HASHING") }
        #expect(commands == ["SWIFT_DETERMINISTIC_HASHING=1 exec swift build \"$@\""])
    }
}
