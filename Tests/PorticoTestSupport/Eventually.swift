import Foundation
import NIOConcurrencyHelpers

/// Checks `condition` every `interval` until it holds or `seconds` have passed (it is checked once
/// more at the end); returns whether it held. For what a test must see happen soon, but not at once.
@discardableResult
package func eventually(
    within seconds: Double,
    every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try await condition() { return true }
        if Date() >= deadline { return false }
        try? await Task.sleep(for: interval)
    }
}

/// A flag one task sets and others read: "stop now" for a load loop.
package final class StopFlag: Sendable {
    private let box = NIOLockedValueBox(false)
    package init() {}
    package var isSet: Bool { box.withLockedValue { $0 } }
    package func set() { box.withLockedValue { $0 = true } }
}
