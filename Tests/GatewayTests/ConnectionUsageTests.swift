import Testing

@testable import PorticoCore
@testable import gateway

@Suite struct ConnectionUsageTests {
    @Test func eachMinuteGetsWhatItRelayedAndTheTotalsGetAll() {
        var usage = ConnectionUsage(openedIn: 100)
        usage.relayed(from: .client, bytes: 10, startsMessage: true)
        usage.relayed(from: .client, bytes: 5, startsMessage: false)
        usage.relayed(from: .backend, bytes: 7, startsMessage: true)
        let same = usage.roll(to: 100)
        #expect(same == nil, "the minute has not changed")
        let first = usage.roll(to: 101)
        #expect(first?.minute == 100)
        #expect(first?.counts.connections == 1 && first?.counts.messagesIn == 1 && first?.counts.bytesIn == 15)
        #expect(first?.counts.messagesOut == 1 && first?.counts.bytesOut == 7)
        let quiet = usage.roll(to: 102)
        #expect(quiet == nil, "a quiet minute hands over nothing")
        usage.count(.throttled)
        usage.relayed(from: .backend, bytes: 3, startsMessage: true)
        let last = usage.take()
        #expect(last?.minute == 102 && last?.counts.connections == 0 && last?.counts.messagesOut == 1)
        let nothing = usage.take()
        #expect(nothing == nil)
        #expect(usage.totals.messagesIn == 1 && usage.totals.messagesOut == 2 && usage.totals.bytesOut == 10 && usage.totals.connections == 1)
    }
}
