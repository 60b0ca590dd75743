import PorticoCore
import Testing

@testable import gateway

/// The local token bucket on its own: the arithmetic every rate limit rests on.
@Suite struct RateBucketTests {
    static let second: UInt64 = 1_000_000_000
    let limit = BusinessPlan.EventLimit(eventCount: 3, timeUnit: .second, unitTime: 2)

    @Test func admitsTheCapacityThenTellsWhenTheNextEventFits() {
        let bucket = RateBucket(key: "k", limit: limit, now: 0)
        #expect((0..<3).map { _ in bucket.take(now: 0) } == [nil, nil, nil])
        #expect(bucket.take(now: 0) == 667, "3 per 2 s: one event every 667 ms")
        #expect(bucket.take(now: Self.second / 2) == 167)
        #expect(bucket.take(now: Self.second * 2 / 3 + 1) == nil)
        #expect(bucket.take(now: Self.second * 10) == nil, "refilled, but never above the capacity")
        #expect(bucket.take(now: Self.second * 10) == nil)
        #expect(bucket.take(now: Self.second * 10) == nil)
        #expect(bucket.take(now: Self.second * 10) != nil)
    }

    @Test func aLargerPlanAddsItsDifferenceAndASmallerOneTakesItAway() {
        let bucket = RateBucket(key: "k", limit: limit, now: 0)
        for _ in 0..<3 { _ = bucket.take(now: 0) }
        bucket.change(to: .init(eventCount: 5, timeUnit: .second, unitTime: 2))
        #expect((0..<2).map { _ in bucket.take(now: 0) } == [nil, nil], "3 used of 5")
        #expect(bucket.take(now: 0) != nil)
        bucket.change(to: .init(eventCount: 1, timeUnit: .second, unitTime: 2))
        #expect(bucket.take(now: 0) != nil)
    }

    @Test func theClustersViewReplacesOursLessWhatWasAdmittedSinceTheReport() {
        let bucket = RateBucket(key: "k", limit: limit, now: 0)
        _ = bucket.take(now: 0)
        let report = bucket.takeReport(now: 0)
        #expect(report.used == 1 && report.tokens == 2)
        _ = bucket.take(now: 0)  // admitted while the report travels
        bucket.reconcile(clusterTokens: 1, reportedLimit: limit, now: 0)  // another node used one too
        #expect(bucket.take(now: 0) != nil, "1 left in the cluster, minus the one admitted here since")
        bucket.restore(unreported: 5)
        #expect(bucket.takeReport(now: 0).used == 6, "a report that failed is sent again")
    }

    /// A plan raised while a report travels keeps its raise: the cluster's answer was computed with
    /// the old limit (a live connection was closed 4003 under a plan grown from 2 to 5).
    @Test func aPlanChangeDuringASyncRoundTripIsKept() {
        let bucket = RateBucket(key: "k", limit: limit, now: 0)
        while bucket.take(now: 0) == nil {}
        let report = bucket.takeReport(now: 0)
        bucket.change(to: .init(eventCount: limit.eventCount + 2, timeUnit: limit.timeUnit, unitTime: limit.unitTime))
        bucket.reconcile(clusterTokens: 0, reportedLimit: report.limit, now: 0)
        #expect((0..<2).map { _ in bucket.take(now: 0) } == [nil, nil], "the two the raise added")
        #expect(bucket.take(now: 0) != nil)
    }

    @Test func aMessageTakesFromEveryBucketOrFromNone() {
        let bucket = RateBucket(key: "k", limit: limit, now: 0)
        _ = bucket.take(now: 0)
        bucket.giveBack()
        #expect(bucket.takeReport(now: 0).used == 0)
        #expect((0..<3).map { _ in bucket.take(now: 0) } == [nil, nil, nil])
    }
}
