import NIOCore
import NIOPosix

/// Waits `duration` on a SwiftNIO event loop's timer, like `Task.sleep(for:)`, and throws
/// `CancellationError` as soon as the task is cancelled (a service's loop ends with it).
///
/// Portico's own periodic loops (the gateway's sync, usage, log, snapshot and drain loops, the
/// services' waits for PostgreSQL) wait here rather than on `Task.sleep(for:)`, whose timers are
/// libdispatch's: a test process once had libdispatch's CLOCK_BOOTTIME timer fire while its epoll
/// registration was left disarmed, after which no `Task.sleep(for:)` of the process ever woke
/// (README, Tests). A loop that silently stops — no more usage, log lines or limit sync — is the
/// failure a gateway must not have; NIO's timers are its event loops' own epoll timerfd.
public func pause(for duration: Duration, on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
    try Task.checkCancellation()
    let (seconds, attoseconds) = duration.components
    let nanoseconds = max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    let scheduled = group.any().scheduleTask(in: .nanoseconds(nanoseconds)) {}
    do {
        try await withTaskCancellationHandler {
            try await scheduled.futureResult.get()
        } onCancel: {
            scheduled.cancel()
        }
    } catch EventLoopError.cancelled {
        throw CancellationError()
    }
}
