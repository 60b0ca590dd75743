import Foundation
import PorticoCore
import PorticoTestSupport
import Testing

/// The tutorial, click by click, in a real browser: headless Chromium driven through WebDriver
/// (`Tests/Browser/tutorial.py`, Selenium) against the four processes, in development mode
/// (admin/admin). The script signs in to the publisher console, creates and publishes
/// EchoWebSocket with Gold and Silver, signs up on the developer portal, runs the key wizard, copies
/// the token, uses it with a WebSocket client outside the browser and the console inside it, and
/// checks the refusals (wrong password, no Create & Publish without the publisher role, another
/// developer's application, a form without its CSRF token, an API named `<script>`). Screenshots of
/// every page land in `.build/browser-screenshots/`.
///
/// `make test` installs Chromium, chromedriver and Selenium (`scripts/browser-prerequisites.sh`)
/// and names the Python that has Selenium in `PORTICO_BROWSER_PYTHON`.
@Suite struct BrowserTutorialTests {
    static var python: String? { ProcessInfo.processInfo.environment["PORTICO_BROWSER_PYTHON"] }

    @Test func theTutorialRunsInTheBrowser() async throws {
        let python = try #require(Self.python, "PORTICO_BROWSER_PYTHON is not set: run `make test` (scripts/browser-prerequisites.sh prepares it)")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let screenshots = root.appendingPathComponent(".build/browser-screenshots")
        try? FileManager.default.removeItem(at: screenshots)
        let extra = ["PORTICO_DEV_MODE": "true", "PORTICO_ADMIN_PASSWORD": "admin", "GATEWAY_PUBLIC_HOST": "127.0.0.1"]
        try await TestDatabase.withEmptyDatabase { url in
            try await GatewayStack.run(database: url, extra: extra, prepared: false) { stack in
                let run = try await CommandRun.run(
                    executable: URL(fileURLWithPath: python),
                    [root.appendingPathComponent("Tests/Browser/tutorial.py").path],
                    environment: [
                        "PUBLISHER": stack.publisherURL.replacingOccurrences(of: "/api/am/publisher/v4", with: "/publisher"),
                        "DEVPORTAL": "\(stack.devportalURL)/devportal",
                        "ECHO_BACKEND": "ws://127.0.0.1:\(stack.echoPort)",
                        "SCREENSHOTS": screenshots.path,
                        "HOME": NSTemporaryDirectory(),
                    ],
                    timeout: 300
                )
                #expect(run.status == 0, "the browser tutorial failed:\n\(run.stdout)\n\(run.stderr.suffix(4000))")
                #expect(run.stdout.contains("\"passed\": true"))
            }
        }
    }
}
