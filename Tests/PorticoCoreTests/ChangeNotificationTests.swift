import Foundation
import PorticoTestSupport
import PostgresNIO
import Testing

@testable import PorticoCore

@Suite struct ChangeNotificationTests {
    @Test func everyAPIChangeIsAnnouncedOnPorticoChanges() async throws {
        try await TestDatabase.withMigratedDatabase { database in
            let store = APIStore(database: database)
            try await withTimeout(seconds: 20, "notifications") {
                try await database.client.withConnection { connection in
                    try await connection.listen(on: ChangeNotifier.channel) { notifications in
                        var iterator = notifications.makeAsyncIterator()
                        var numbers: [Int64] = []
                        // The change without its number (checked at the end) and its transaction's end
                        // (each of these changes is its transaction's only one).
                        func next() async throws -> Change {
                            let notification = try await iterator.next()
                            var change = try JSONDecoder().decode(Change.self, from: Data(notification!.payload.utf8))
                            numbers.append(change.seq ?? 0)
                            #expect(change.endsTransaction == true)
                            change.seq = nil
                            change.endsTransaction = nil
                            return change
                        }
                        let api = try await store.create(
                            APISpec(name: "Echo", context: "/echo", version: "1", plans: ["Gold"], productionEndpoint: "ws://h"),
                            provider: "p"
                        )
                        #expect(try await next() == Change(entity: .api, action: .created, id: api.id))

                        _ = try await store.update(id: api.id, ifMatch: nil) { $0.description = "changed" }
                        #expect(try await next() == Change(entity: .api, action: .updated, id: api.id))

                        for (action, state) in [
                            (LifecycleAction.publish, "PUBLISHED"), (.block, "BLOCKED"), (.republish, "PUBLISHED"),
                            (.deprecate, "DEPRECATED"), (.retire, "RETIRED"),
                        ] {
                            _ = try await store.changeLifecycle(id: api.id, action: action, user: "p", ifMatch: nil)
                            #expect(try await next() == Change(entity: .api, action: .lifecycle, id: api.id, state: state))
                        }

                        try await store.delete(id: api.id, ifMatch: nil)
                        #expect(try await next() == Change(entity: .api, action: .deleted, id: api.id))
                        // Numbered in commit order, without gaps, from 1; the log holds the same.
                        #expect(numbers == Array(1...Int64(numbers.count)))
                        let logged = try await ChangeNotifier.changes(after: 0, limit: 100, on: database.client, logger: TestDatabase.logger)
                        #expect(logged.map(\.seq) == numbers)
                        #expect(logged.last == Change(seq: numbers.last, entity: .api, action: .deleted, id: api.id, endsTransaction: true))
                    }
                }
            }
        }
    }

    @Test func aRolledBackChangeIsNeverAnnounced() async throws {
        try await TestDatabase.withMigratedDatabase { database in
            let store = APIStore(database: database)
            try await withTimeout(seconds: 20, "notifications") {
                try await database.client.withConnection { connection in
                    try await connection.listen(on: ChangeNotifier.channel) { notifications in
                        var iterator = notifications.makeAsyncIterator()
                        // Unknown plan: the insert happens after the plan check fails, so nothing commits.
                        let refused = await #expect(throws: StoreError.self) {
                            _ = try await store.create(APISpec(name: "A", context: "/a", version: "1", plans: ["Nope"]), provider: "p")
                        }
                        guard case .invalidField(let field) = refused else {
                            Issue.record("\(String(describing: refused))")
                            return
                        }
                        #expect(field.field == "policies")
                        let created = try await store.create(APISpec(name: "B", context: "/b", version: "1"), provider: "p")
                        let first = try await iterator.next()
                        let change = try JSONDecoder().decode(Change.self, from: Data(first!.payload.utf8))
                        #expect(change.id == created.id)
                        // The rolled-back change got no number: the first committed one is 1.
                        #expect(change.seq == 1)
                    }
                }
            }
        }
    }

    @Test func aTransactionsChangesAreConsecutiveAndItsLastSaysSo() async throws {
        try await TestDatabase.withMigratedDatabase { database in
            try await withTimeout(seconds: 20, "notifications") {
                try await database.client.withConnection { connection in
                    try await connection.listen(on: ChangeNotifier.channel) { notifications in
                        let logger = TestDatabase.logger
                        try await database.transaction { connection in
                            for id in ["t1", "t2"] {
                                try await ChangeNotifier.announce(Change(entity: .token, action: .revoked, id: id), on: connection, logger: logger)
                            }
                            try await ChangeNotifier.announce(Change(entity: .application, action: .deleted, id: "a"), on: connection, logger: logger)
                        }
                        try await database.transaction { connection in
                            try await ChangeNotifier.announce(Change(entity: .api, action: .deleted, id: "b"), on: connection, logger: logger)
                        }
                        var heard: [Change] = []
                        for try await notification in notifications {
                            heard.append(try JSONDecoder().decode(Change.self, from: Data(notification.payload.utf8)))
                            if heard.count == 4 { break }
                        }
                        #expect(heard.map(\.id) == ["t1", "t2", "a", "b"])
                        #expect(heard.map(\.seq) == [1, 2, 3, 4])
                        #expect(heard.map(\.endsTransaction) == [false, false, true, true])
                        let logged = try await ChangeNotifier.changes(after: 0, limit: 100, on: database.client, logger: logger)
                        #expect(logged == heard)
                    }
                }
            }
        }
    }
}
