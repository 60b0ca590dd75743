import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PorticoCore

/// The connections' timers: one sweep per event loop instead of several scheduled tasks per
/// connection. Every `period`, each connection on the loop is asked what is due
/// (`RelayedConnection.tick`): the token's expiry, the idle timeout, the lifetime, a keep-alive
/// ping, the end of a usage minute. A deadline is met within one period (250 ms); a loop with no
/// connection has no sweep.
final class ConnectionTimers: Sendable {
    static let period: TimeAmount = .milliseconds(250)

    private let sweeps = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<Sweep>]>([:])

    /// Called on the connection's event loop.
    func add(_ connection: RelayedConnection) {
        let loop = connection.eventLoop
        let sweep = sweeps.withLockedValue { sweeps in
            if let sweep = sweeps[ObjectIdentifier(loop)] { return sweep }
            let sweep = NIOLoopBound(Sweep(), eventLoop: loop)
            sweeps[ObjectIdentifier(loop)] = sweep
            return sweep
        }
        sweep.value.connections[ObjectIdentifier(connection)] = connection
        guard sweep.value.task == nil else { return }
        sweep.value.task = loop.scheduleRepeatedTask(initialDelay: Self.period, delay: Self.period) { _ in
            sweep.value.tick(now: loop.now)
        }
    }

    /// Called on the connection's event loop.
    func remove(_ connection: RelayedConnection) {
        guard let sweep = sweeps.withLockedValue({ $0[ObjectIdentifier(connection.eventLoop)] }) else { return }
        sweep.value.connections.removeValue(forKey: ObjectIdentifier(connection))
        if sweep.value.connections.isEmpty {
            sweep.value.task?.cancel()
            sweep.value.task = nil
        }
    }

    /// One event loop's connections and its repeated task; touched only on that loop.
    final class Sweep {
        var connections: [ObjectIdentifier: RelayedConnection] = [:]
        var task: RepeatedTask?

        func tick(now: NIODeadline) {
            let minute = UsageKey.minute(of: Date())
            // A connection may end during its tick (a dead peer's socket closed): the loop runs over a copy.
            for connection in connections.values { connection.tick(now: now, minute: minute) }
        }
    }
}
