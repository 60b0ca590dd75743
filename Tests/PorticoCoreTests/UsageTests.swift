import Foundation
import PorticoTestSupport
import Testing

@testable import PorticoCore

/// The API, application and counts the usage tests record.
private enum UsageFixture {
    static let api = "11111111-1111-1111-1111-111111111111"
    static let app = "22222222-2222-2222-2222-222222222222"

    static func counts(messages: Int, bytes: Int, auth: Int = 0) -> UsageCounts {
        var counts = UsageCounts()
        (counts.connections, counts.messagesIn, counts.messagesOut, counts.bytesIn, counts.bytesOut) = (1, messages, messages, bytes, bytes)
        counts.errors.auth = auth
        return counts
    }
}

@Suite struct UsageStoreTests {

    /// Batches add up (two gateways, two flushes), series group by interval, and pruning keeps the retention.
    @Test func batchesAddUpAndOldMinutesArePruned() async throws {
        try await TestDatabase.withMigratedDatabase { database in
            let store = UsageStore(database: database)
            let now = Date()
            let minute = UsageKey.minute(of: now)
            let key = UsageKey(apiID: UsageFixture.api, applicationID: UsageFixture.app, minute: minute)
            let anonymous = UsageKey(apiID: UsageFixture.api, applicationID: nil, minute: minute)
            let old = UsageKey(apiID: UsageFixture.api, applicationID: UsageFixture.app, minute: minute - 100 * 1440)
            try await store.add([key: UsageFixture.counts(messages: 3, bytes: 30), old: UsageFixture.counts(messages: 1, bytes: 1)])
            try await store.add([key: UsageFixture.counts(messages: 4, bytes: 40), anonymous: UsageFixture.counts(messages: 0, bytes: 0, auth: 2)])

            let range = (from: now.addingTimeInterval(-3600), to: now.addingTimeInterval(60))
            let series = try await store.series(.api(UsageFixture.api), from: range.from, to: range.to, granularity: .minute)
            #expect(series.count == 1)
            let total = try #require(series.first).usage
            #expect(total.connections == 3 && total.messagesIn == 7 && total.bytesOut == 70 && total.errors.auth == 2)

            let shares = try await store.breakdown(.api(UsageFixture.api), from: range.from, to: range.to)
            #expect(shares.map(\.id) == [UsageKey.noApplication, UsageFixture.app])
            #expect(shares.last?.usage.messagesIn == 7)
            let byAPI = try await store.breakdown(.application(UsageFixture.app), from: range.from, to: range.to)
            #expect(byAPI.map(\.id) == [UsageFixture.api] && byAPI.first?.usage.messagesIn == 7)

            let daily = try await store.series(
                .application(UsageFixture.app),
                from: now.addingTimeInterval(-200 * 86_400),
                to: range.to,
                granularity: .day
            )
            #expect(daily.map(\.usage.messagesIn).reduce(0, +) == 8)
            #expect(try await store.prune(olderThanDays: 90) == 1)
            let kept = try await store.series(
                .application(UsageFixture.app),
                from: now.addingTimeInterval(-200 * 86_400),
                to: range.to,
                granularity: .day
            )
            #expect(kept.map(\.usage.messagesIn).reduce(0, +) == 7)
        }
    }
}

@Suite struct UsageQueryTests {
    @Test func defaultsAreTheLastDayByHour() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_100)
        let query = try UsageQuery(query: [:], now: now)
        // Whole hours: from down, to up.
        #expect(query.to == Date(timeIntervalSince1970: 1_800_003_600) && query.from == Date(timeIntervalSince1970: 1_799_913_600))
        #expect(query.granularity == .hour)
        #expect(query.filled([]).count == 25)
    }

    /// A `from` inside a minute: the first point is that whole minute, labelled by its start, with
    /// the traffic of that minute (before, it was labelled the minute and counted from `from`: zero).
    @Test func aRangeStartingInsideAMinuteCountsThatMinute() async throws {
        try await TestDatabase.withMigratedDatabase { database in
            let store = UsageStore(database: database)
            let minute = UsageKey.minute(of: try Date("2026-11-22T10:00:00Z", strategy: .iso8601))
            try await store.add([
                UsageKey(apiID: UsageFixture.api, applicationID: UsageFixture.app, minute: minute):
                    UsageFixture.counts(messages: 3, bytes: 30)
            ])
            for granularity in ["minute", "hour", "day"] {
                let query = try UsageQuery(query: ["from": "2026-11-22T10:00:30Z", "to": "2026-11-22T10:02:10Z", "granularity": granularity])
                let report = try await UsageReport.read(.api(UsageFixture.api), query: query, from: store)
                #expect(report.total.messagesIn == 3, "\(granularity)")
                let first = try #require(report.series.first)
                #expect(first.usage.messagesIn == 3, "\(granularity): the labelled interval holds its traffic")
                #expect(first.start <= (try Date("2026-11-22T10:00:00Z", strategy: .iso8601)), "\(granularity)")
                #expect(report.series.map(\.usage.messagesIn).reduce(0, +) == 3)
            }
        }
    }

    @Test func badParametersAreNamed() {
        for (parameters, name) in [
            (["granularity": "week"], "granularity"), (["from": "yesterday"], "from"),
            (["from": "2026-11-22T10:00:00Z", "to": "2026-11-22T09:00:00Z"], "from"),
            (["from": "2000-01-01T00:00:00Z", "granularity": "minute"], "granularity"),
        ] {
            #expect { try UsageQuery(query: parameters) } throws: { error in
                (error as? APIError)?.message.contains("'\(name)'") == true
            }
        }
    }

    @Test func intervalsAreFilledWithZeros() throws {
        let query = try UsageQuery(query: ["from": "2026-11-22T10:00:30Z", "to": "2026-11-22T10:03:00Z", "granularity": "minute"])
        var counts = UsageCounts()
        counts.messagesIn = 5
        let start = try Date("2026-11-22T10:01:00Z", strategy: .iso8601)
        let filled = query.filled([UsagePoint(start: start, usage: counts)])
        #expect(filled.map(\.usage.messagesIn) == [0, 5, 0])
        #expect(filled.first?.start == (try Date("2026-11-22T10:00:00Z", strategy: .iso8601)))
    }
}

@Suite struct LogRedactionTests {
    @Test func accessTokensLeaveURLs() {
        #expect(LogRedaction.url("/echo/1?access_token=abc.def&x=1") == "/echo/1?access_token=REDACTED&x=1")
        #expect(LogRedaction.url("/echo/1?x=1&ACCESS_TOKEN=abc") == "/echo/1?x=1&ACCESS_TOKEN=REDACTED")
        #expect(LogRedaction.url("/echo/1?access%5Ftoken=abc") == "/echo/1?access%5Ftoken=REDACTED")
        #expect(LogRedaction.url("/echo/1?x=access_token") == "/echo/1?x=access_token")
        #expect(LogRedaction.url("/echo/1") == "/echo/1")
    }

    @Test func credentialHeadersKeepOnlyTheirNames() {
        let headers = LogRedaction.headers([("Authorization", "Bearer abc"), ("User-Agent", "wscat"), ("cookie", "s=1")])
        #expect(headers.map { $0.1 } == ["REDACTED", "wscat", "REDACTED"])
    }
}
