import Foundation
import Hummingbird

/// The query of a usage resource: `from` and `to` (ISO 8601; default the last 24 hours, `to` now)
/// and `granularity` (`minute`, `hour` or `day`; default `hour`). Intervals are aligned in UTC, and
/// the range is widened to whole intervals (`from` down, `to` up), so every point of the series
/// counts its whole interval and its label says where that starts; the answer's `from` and `to`
/// are the range counted.
package struct UsageQuery: Sendable {
    package let from: Date
    package let to: Date
    package let granularity: UsageGranularity

    /// The most intervals one answer may hold.
    package static let maxPoints = 10_000

    package init(query: [String: String], now: Date = Date()) throws {
        func date(_ name: String) throws -> Date? {
            guard let raw = query[name] else { return nil }
            let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
            guard let date = (try? Date(raw, strategy: .iso8601)) ?? (try? Date(raw, strategy: fractional)) else {
                throw APIError.invalidParameter(name, "'\(raw)' is not an ISO 8601 date and time such as 2026-11-22T10:00:00Z")
            }
            return date
        }
        let raw = query["granularity"] ?? UsageGranularity.hour.rawValue
        guard let granularity = UsageGranularity(rawValue: raw) else {
            throw APIError.invalidParameter("granularity", "'\(raw)' is not one of minute, hour, day")
        }
        let asked = try date("to") ?? now
        let askedFrom = try date("from") ?? asked.addingTimeInterval(-86_400)
        guard askedFrom < asked else { throw APIError.invalidParameter("from", "'from' must be before 'to'") }
        // Usage is kept per minute: a part of an interval cannot be counted, so the range is whole intervals.
        let step = Double(granularity.seconds)
        let from = Date(timeIntervalSince1970: (askedFrom.timeIntervalSince1970 / step).rounded(.down) * step)
        let to = Date(timeIntervalSince1970: (asked.timeIntervalSince1970 / step).rounded(.up) * step)
        let points = Int((to.timeIntervalSince(from) / Double(granularity.seconds)).rounded(.up)) + 1
        guard points <= Self.maxPoints else {
            throw APIError.invalidParameter(
                "granularity",
                "\(points) \(granularity.rawValue) intervals are more than \(Self.maxPoints): choose a coarser granularity or a shorter range"
            )
        }
        (self.from, self.to, self.granularity) = (from, to, granularity)
    }

    /// Every interval of the range, in order, with zeros where nothing was counted.
    package func filled(_ points: [UsagePoint]) -> [UsagePoint] {
        let step = TimeInterval(granularity.seconds)
        var byStart: [Date: UsageCounts] = [:]
        for point in points { byStart[point.start] = point.usage }
        var start = from
        var filled: [UsagePoint] = []
        while start < to {
            filled.append(UsagePoint(start: start, usage: byStart[start] ?? UsageCounts()))
            start += step
        }
        return filled
    }
}

/// A usage answer: the range, its total, the series, and the breakdown by the other side
/// (applications of an API, APIs of an application).
package struct UsageReport: ResponseEncodable, Sendable {
    let from: Date
    let to: Date
    let granularity: UsageGranularity
    let total: UsageCounts
    let series: [UsagePoint]
    let applications: [UsageStore.Share]?
    let apis: [UsageStore.Share]?

    private init(_ query: UsageQuery, scope: UsageStore.Scope, series: [UsagePoint], breakdown: [UsageStore.Share]) {
        from = query.from
        to = query.to
        granularity = query.granularity
        var total = UsageCounts()
        for point in series { total.add(point.usage) }
        self.total = total
        self.series = query.filled(series)
        switch scope {
        case .api: (applications, apis) = (breakdown, nil)
        case .application: (applications, apis) = (nil, breakdown)
        }
    }

    /// Reads a scope's report from the store.
    package static func read(_ scope: UsageStore.Scope, query: UsageQuery, from store: UsageStore) async throws -> UsageReport {
        let series = try await store.series(scope, from: query.from, to: query.to, granularity: query.granularity)
        let breakdown = try await store.breakdown(scope, from: query.from, to: query.to)
        return UsageReport(query, scope: scope, series: series, breakdown: breakdown)
    }
}
