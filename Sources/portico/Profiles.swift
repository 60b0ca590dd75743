import Foundation

/// Where the CLI keeps what `portico login` got: per profile, each service's URL, user and personal
/// access token (never a password), and the client keys `portico keys generate` made. One JSON
/// file, `$XDG_CONFIG_HOME/portico/profiles.json` (else `~/.config/portico/profiles.json`), that
/// only its user can read (0600, in a 0700 folder), written whole and renamed into place.
struct Profiles: Codable {
    struct Service: Codable {
        var url: String
        var user: String
        var token: String
        var tokenId: String
    }

    struct ClientKeys: Codable {
        var consumerKey: String
        var consumerSecret: String
    }

    struct Profile: Codable {
        var publisher: Service?
        var devportal: Service?
        /// Client keys by `<application id>/<key type>`.
        var keys: [String: ClientKeys] = [:]
    }

    var profiles: [String: Profile] = [:]

    static var file: URL {
        let environment = ProcessInfo.processInfo.environment
        let base =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".config")
        return base.appendingPathComponent("portico").appendingPathComponent("profiles.json")
    }

    static func load() throws -> Profiles {
        guard let data = FileManager.default.contents(atPath: file.path) else { return Profiles() }
        do {
            return try JSONDecoder().decode(Profiles.self, from: data)
        } catch {
            throw CLIError("\(file.path) is not a profiles file; remove it and log in again")
        }
    }

    func save() throws {
        let folder = Self.file.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = folder.appendingPathComponent(".profiles.\(getpid()).json")
        guard FileManager.default.createFile(atPath: temporary.path, contents: try encoder.encode(self), attributes: [.posixPermissions: 0o600])
        else { throw CLIError("cannot write \(temporary.path)") }
        guard rename(temporary.path, Self.file.path) == 0 else { throw CLIError("cannot write \(Self.file.path)") }
    }
}
