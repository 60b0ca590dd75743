import Foundation
import NIOConcurrencyHelpers
import PorticoCore

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
        await pause(interval)
    }
}

/// Waits `duration` on a NIO event loop's timer (`PorticoCore.pause(for:)`, which the services'
/// loops use too) rather than Swift concurrency's (libdispatch's). The tests poll hundreds of times
/// a second; under that load libdispatch once left its CLOCK_BOOTTIME timer fired but no longer
/// watched (its epoll registration disarmed), and every `Task.sleep(for:)` of the test process
/// waited forever (README, Tests). Returns early only if the task is cancelled.
package func pause(_ duration: Duration) async {
    try? await pause(for: duration)
}

/// A flag one task sets and others read: "stop now" for a load loop.
package final class StopFlag: Sendable {
    private let box = NIOLockedValueBox(false)
    package init() {}
    package var isSet: Bool { box.withLockedValue { $0 } }
    package func set() { box.withLockedValue { $0 = true } }
}
