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
                        func next() async throws -> Change {
                            let notification = try await iterator.next()
                            return try JSONDecoder().decode(Change.self, from: Data(notification!.payload.utf8))
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
                        #expect(try JSONDecoder().decode(Change.self, from: Data(first!.payload.utf8)).id == created.id)
                    }
                }
            }
        }
    }
}
