import NIOConcurrencyHelpers
import NIOCore
import PorticoCore

/// One token bucket of the cluster's, as this gateway sees it: `capacity` events, refilled at
/// `capacity` per window. Events are admitted from the local view at once; `ClusterSync` reports
/// what this node admitted and replaces the view with the cluster's every sync interval.
final class RateBucket: Sendable {
    struct State {
        var limit: BusinessPlan.EventLimit
        var tokens: Double
        var refilledAt: UInt64
        /// Admitted here since the last report to the cluster.
        var unreported: Int64 = 0
        /// Connections using the bucket (the registry forgets it when none do and it is full).
        var users = 0
        /// The last time the cluster's view replaced ours.
        var syncedAt: UInt64 = 0
    }

    let key: String
    private let state: NIOLockedValueBox<State>

    init(key: String, limit: BusinessPlan.EventLimit, now: UInt64) {
        self.key = key
        state = NIOLockedValueBox(State(limit: limit, tokens: Double(limit.eventCount), refilledAt: now))
    }

    private static func refill(_ state: inout State, now: UInt64) {
        guard now > state.refilledAt else { return }
        let capacity = Double(state.limit.eventCount)
        let perNanosecond = capacity / (state.limit.seconds * 1e9)
        state.tokens = min(capacity, state.tokens + Double(now - state.refilledAt) * perNanosecond)
        state.refilledAt = now
    }

    /// Takes one event: nil when admitted, else the milliseconds until one would be.
    func take(now: UInt64) -> Int? {
        state.withLockedValue { state in
            Self.refill(&state, now: now)
            if state.tokens >= 1 {
                state.tokens -= 1
                state.unreported += 1
                return nil
            }
            let perMillisecond = Double(state.limit.eventCount) / (state.limit.seconds * 1000)
            return max(1, Int(((1 - state.tokens) / perMillisecond).rounded(.up)))
        }
    }

    /// Gives back an event taken when another bucket of the same message refused it.
    func giveBack() {
        state.withLockedValue { state in
            state.tokens += 1
            state.unreported -= 1
        }
    }

    /// A changed plan: a larger capacity adds its difference to what is left, a smaller one takes it away.
    func change(to limit: BusinessPlan.EventLimit) {
        state.withLockedValue { state in
            guard state.limit != limit else { return }
            state.tokens += Double(limit.eventCount - state.limit.eventCount)
            state.tokens = min(state.tokens, Double(limit.eventCount))
            state.limit = limit
        }
    }

    /// For the sync: what was admitted since the last report (now reported), the tokens left as
    /// seen here, the bucket's limit.
    func takeReport(now: UInt64) -> (used: Int64, tokens: Double, limit: BusinessPlan.EventLimit) {
        state.withLockedValue { state in
            Self.refill(&state, now: now)
            defer { state.unreported = 0 }
            return (state.unreported, state.tokens, state.limit)
        }
    }

    /// The cluster's tokens after our report: what was admitted here since then is taken off again,
    /// and a plan change since then (`reportedLimit` is the limit the report carried) applies on top,
    /// as `change(to:)` applied it — else the cluster's answer, computed with the old limit, undoes it.
    func reconcile(clusterTokens: Double, reportedLimit: BusinessPlan.EventLimit, now: UInt64) {
        state.withLockedValue { state in
            let changed = Double(state.limit.eventCount - reportedLimit.eventCount)
            state.tokens = min(clusterTokens + changed, Double(state.limit.eventCount)) - Double(state.unreported)
            state.refilledAt = now
            state.syncedAt = now
        }
    }

    /// A report that did not reach PostgreSQL is kept for the next one.
    func restore(unreported used: Int64) {
        state.withLockedValue { $0.unreported += used }
    }

    func withState<T>(_ body: (inout State) -> T) -> T { state.withLockedValue(body) }
}

/// Every bucket live connections use on this gateway, by key: `subscription:<id>`,
/// `application:<id>`, `api:<id>`. Connections acquire the buckets their policy names — with the
/// limit their snapshot gives, so an edited plan reaches the bucket when the connections' policies
/// are resolved again — and release them when they end; a released bucket stays while it is not
/// yet refilled, so that reconnecting does not refill it.
final class RateLimiter: Sendable {
    private let buckets = NIOLockedValueBox<[String: RateBucket]>([:])

    func acquire(key: String, limit: BusinessPlan.EventLimit) -> RateBucket {
        buckets.withLockedValue { buckets in
            let bucket = buckets[key] ?? RateBucket(key: key, limit: limit, now: NIODeadline.now().uptimeNanoseconds)
            buckets[key] = bucket
            bucket.change(to: limit)
            bucket.withState { $0.users += 1 }
            return bucket
        }
    }

    func release(_ bucket: RateBucket) {
        bucket.withState { $0.users -= 1 }
    }

    var all: [RateBucket] { buckets.withLockedValue { Array($0.values) } }

    /// Forgets buckets no connection uses that are full again and reported.
    func prune(now: UInt64) {
        buckets.withLockedValue { buckets in
            buckets = buckets.filter { _, bucket in
                bucket.withState { state in
                    guard state.users <= 0, state.unreported == 0 else { return true }
                    let capacity = Double(state.limit.eventCount)
                    let refillNanoseconds = (capacity - state.tokens) / capacity * state.limit.seconds * 1e9
                    return Double(now &- state.refilledAt) < refillNanoseconds
                }
            }
        }
    }
}
