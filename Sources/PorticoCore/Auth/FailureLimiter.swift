import Foundation

/// Slows down guessing: after `maxFailures` failed authentications within `window` seconds, a key
/// (a client id, a user name, an address) is refused (429) until the window has passed. Kept per
/// process, in a bounded map whatever is sent.
package actor FailureLimiter {
    package let maxFailures: Int
    package let window: TimeInterval
    let capacity: Int
    private var failures: [String: [Date]] = [:]

    package init(maxFailures: Int, window: TimeInterval, capacity: Int = 10_000) {
        self.maxFailures = maxFailures
        self.window = window
        self.capacity = capacity
    }

    /// Seconds to wait when the key is locked out now; nil when it may try.
    package func retryAfter(_ key: String, now: Date = Date()) -> Int? {
        guard let recorded = failures[key] else { return nil }
        let recent = recorded.filter { now.timeIntervalSince($0) < window }
        failures[key] = recent.isEmpty ? nil : recent
        guard recent.count >= maxFailures, let oldest = recent.first else { return nil }
        return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
    }

    package func recordFailure(_ key: String, now: Date = Date()) {
        if failures.count >= capacity, failures[key] == nil {
            // Forget the entries whose last failure is oldest.
            let stale = failures.sorted { ($0.value.last ?? .distantPast) < ($1.value.last ?? .distantPast) }.prefix(capacity / 10)
            for (id, _) in stale { failures[id] = nil }
        }
        // At most `maxFailures` dates per key: the oldest goes, the lock-out lasts from the newest ones.
        var recent = failures[key, default: []]
        recent.append(now)
        if recent.count > maxFailures { recent.removeFirst(recent.count - maxFailures) }
        failures[key] = recent
    }

    package func reset(_ key: String) {
        failures[key] = nil
    }
}
