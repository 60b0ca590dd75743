import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Synchronization

/// Where every bcrypt of a process runs: at most `workers` at once on the thread pool, at most
/// `queueLimit` more waiting their turn. Beyond that the caller gets a 503 with `Retry-After`
/// at once, so a flood of logins (right or wrong) cannot queue unbounded work or starve the
/// event loops; a legitimate caller behind it waits at most the queue's length of hashes.
package final class BcryptPool: Sendable {
    package let workers: Int
    package let queueLimit: Int

    private struct State {
        var running = 0
        var completed = 0
        var waiting: [CheckedContinuation<Void, any Error>] = []
    }
    private let state = Mutex(State())

    package init(workers: Int = System.coreCount, queueLimit: Int = 64) {
        self.workers = max(1, workers)
        self.queueLimit = max(0, queueLimit)
    }

    /// The error a full pool answers with.
    package static let busy = APIError(
        .serviceUnavailable,
        "Service Unavailable",
        "Too many password checks are waiting; retry in a second",
        headers: [.retryAfter: "1"]
    )

    /// Runs `work` on the thread pool when a worker is free; throws `busy` when the queue is full.
    package func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            // One lock decides and enqueues, so the counts never drift.
            let entry: PoolEntry = state.withLock { state in
                if state.running < workers {
                    state.running += 1
                    return .run
                }
                guard state.waiting.count < queueLimit else { return .refuse }
                state.waiting.append(continuation)
                return .wait
            }
            switch entry {
            case .run: continuation.resume()
            case .refuse: continuation.resume(throwing: Self.busy)
            case .wait: break
            }
        }
        defer { release() }
        return try await NIOThreadPool.singleton.runIfActive(work)
    }

    /// A worker is done: the longest waiter takes its place (the running count stays), else it drops.
    private func release() {
        let next: CheckedContinuation<Void, any Error>? = state.withLock { state in
            state.completed += 1
            if state.waiting.isEmpty {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }

    /// Bcrypts done since the pool was made.
    package var completed: Int { state.withLock { $0.completed } }

    /// Bcrypts running and waiting now.
    package var load: (running: Int, waiting: Int) {
        state.withLock { ($0.running, $0.waiting.count) }
    }
}

private enum PoolEntry { case run, wait, refuse }
