import Foundation
import Logging

/// What every service's `main` does around its real work: load settings or print one line naming
/// the bad one (exit 2), bootstrap logging, and turn any start-up error into one line (exit 1).
package enum ServiceStartup {
    package static func settings<Settings>(
        for service: String,
        _ make: (SettingsSource) throws -> Settings,
        logLevel: (Settings) -> Logger.Level
    ) -> Settings {
        do {
            let settings = try make(try SettingsSource.load())
            let level = logLevel(settings)
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            return settings
        } catch {
            FileHandle.standardError.write(Data("\(service): \(error)\n".utf8))
            exit(2)
        }
    }

    package static func run(_ service: String, _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            FileHandle.standardError.write(Data("\(service): \(error)\n".utf8))
            exit(1)
        }
    }
}
