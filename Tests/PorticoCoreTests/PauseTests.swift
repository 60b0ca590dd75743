import Foundation
import Testing

@testable import PorticoCore

/// The services' loops wait on NIO's timers (`pause(for:)`): they wake after the duration, and a
/// cancelled task (a service shutting down) stops waiting at once with `CancellationError`.
@Suite struct PauseTests {
    @Test func itWakesAfterTheDuration() async throws {
        let start = ContinuousClock.now
        try await pause(for: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50))
    }

    @Test func cancellingTheTaskEndsTheWaitWithCancellationError() async throws {
        let waiting = Task { try await pause(for: .seconds(60)) }
        let start = ContinuousClock.now
        try await pause(for: .milliseconds(20))
        waiting.cancel()
        let result = await waiting.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(ContinuousClock.now - start < .seconds(10))
        // Already cancelled: no timer at all.
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await pause(for: .seconds(60))
        }
        await #expect(throws: CancellationError.self) { try await cancelled.value }
    }
}
