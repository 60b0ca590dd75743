import Foundation
import Logging
import PorticoTestSupport
import PostgresNIO
import Testing

@testable import PorticoCore
@testable import devportal
@testable import gateway

/// Changes reach a gateway one at a time (`SnapshotService`, `RouteTable.apply`), not as reloads
/// of the whole catalog: after each kind of change the gateway's table is the one a full load
/// makes, no full load having happened; a gateway that missed notifications catches up from the
/// change log; two gateways end in the same state.
@Suite struct CatalogChangeTests {
    /// No periodic full reload during a test that counts them.
    static let noPeriodicReload = ["GATEWAY_RELOAD_INTERVAL": "3600"]

    /// A full load of the stack's catalog, as a new gateway would make it.
    static func fullLoad(_ url: DatabaseURL) async throws -> RouteTable {
        let database = Database(url: url, poolSize: 1, logger: TestDatabase.logger)
        return try await database.withRunningClient {
            try await GatewayCatalogStore(database: database).load(into: RouteTable.Builder()).table
        }
    }

    /// Waits for the gateway to apply every change so far, then compares its table with a full load.
    static func expectFullLoadsTable(_ stack: InProcessStack, after what: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await stack.settle()
        let loaded = try await fullLoad(stack.databaseURL)
        let table = try #require(stack.gateway.snapshot.current)
        #expect(table.seq == loaded.seq, "after \(what)", sourceLocation: sourceLocation)
        let same = table.holdsTheSameCatalog(as: loaded)  // (a failed #expect would print both whole tables)
        #expect(same, "after \(what)", sourceLocation: sourceLocation)
    }

    @Test func everyKindOfChangeIsAppliedAsAFullLoadWouldHaveIt() async throws {
        try await InProcessStack.run(extra: Self.noPeriodicReload) { stack in
            try await Self.expectFullLoadsTable(stack, after: "the start")
            let fullLoads = stack.gateway.snapshot.fullLoads
            let publisher = stack.publisherAPI
            let devportal = stack.devportalAPI

            // API lifecycle, endpoint and limits edits, a new default version.
            let id = try await stack.createAPI(name: "Changing", context: "/changing", version: "1", isDefault: true)
            try await Self.expectFullLoadsTable(stack, after: "an API created")
            for action in ["Publish", "Block", "Re-Publish", "Deprecate"] {
                try await stack.lifecycle(id, action)
                try await Self.expectFullLoadsTable(stack, after: action)
            }
            let edited = try await publisher.send(
                .put,
                "apis/\(id)",
                json:
                    #"{"endpointConfig":{"endpoint_type":"ws","production_endpoints":{"url":"ws://127.0.0.1:1"}},"limits":{"maxMessageBytes":2048}}"#
            )
            #expect(edited.status == .ok, "\(edited.text)")
            try await Self.expectFullLoadsTable(stack, after: "an endpoint and limits edit")
            let second = try await stack.createAPI(name: "Changing", context: "/changing", version: "2", isDefault: true)
            try await stack.lifecycle(second, "Publish")
            try await Self.expectFullLoadsTable(stack, after: "a new default version")
            let connectionKey = try await publisher.send(.post, "apis/\(second)/connection-keys")
            #expect(connectionKey.status == .created, "\(connectionKey.text)")
            try await Self.expectFullLoadsTable(stack, after: "a connection key created")
            #expect(try await publisher.send(.delete, "apis/\(second)/connection-keys/\(connectionKey["id"].string ?? "")").status == .noContent)
            try await Self.expectFullLoadsTable(stack, after: "a connection key deleted")
            try await stack.lifecycle(id, "Retire")
            try await Self.expectFullLoadsTable(stack, after: "Retire")

            // Plan edits.
            let plan = try await stack.createPlan(
                #"{"policyName":"Copper","defaultLimit":{"type":"EVENTCOUNTLIMIT","eventCount":{"timeUnit":"min","unitTime":1,"eventCount":5}}}"#
            )
            try await Self.expectFullLoadsTable(stack, after: "a plan created")
            let planEdit = try await publisher.send(
                .put,
                "\(RESTClient.subscriptionPlans)/\(plan)",
                json:
                    #"{"displayName":"Copper+","defaultLimit":{"type":"EVENTCOUNTLIMIT","eventCount":{"timeUnit":"min","unitTime":1,"eventCount":7}}}"#
            )
            #expect(planEdit.status == .ok, "\(planEdit.text)")
            try await Self.expectFullLoadsTable(stack, after: "a plan edited")

            // Applications, keys, subscriptions, tokens.
            let application = try await stack.createApplication("Changes")
            try await Self.expectFullLoadsTable(stack, after: "an application created")
            let keys = try await devportal.generateKeys(application)
            try await Self.expectFullLoadsTable(stack, after: "keys generated")
            let regenerated = try await devportal.send(.post, "applications/\(application)/oauth-keys/\(keys.keyMappingId)/regenerate-secret")
            let secret = try #require(regenerated["consumerSecret"].string)
            try await Self.expectFullLoadsTable(stack, after: "a secret regenerated")
            let subscription = try await stack.subscribe(application, to: second)
            try await Self.expectFullLoadsTable(stack, after: "a subscription created")
            for (path, what) in [
                ("block-subscription?subscriptionId=\(subscription)&blockState=PROD_ONLY_BLOCKED", "blocked for production"),
                ("block-subscription?subscriptionId=\(subscription)&blockState=BLOCKED", "blocked"),
                ("unblock-subscription?subscriptionId=\(subscription)", "unblocked"),
            ] {
                #expect(try await publisher.send(.post, "subscriptions/\(path)").status == .ok)
                try await Self.expectFullLoadsTable(stack, after: "a subscription \(what)")
            }
            #expect(try await devportal.send(.delete, "subscriptions/\(subscription)").status == .noContent)
            try await Self.expectFullLoadsTable(stack, after: "a subscription deleted")
            #expect(try await devportal.revoke(keys.token.accessToken, keys.consumerKey, secret).status == .ok)
            try await Self.expectFullLoadsTable(stack, after: "a token revoked")
            let settings = try DevportalSettings(source: SettingsSource(values: TestSettings.stack(stack.databaseURL)))
            let database = Database(url: stack.databaseURL, poolSize: 1, logger: TestDatabase.logger)
            _ = try await database.withRunningClient { try await signingKeyStore(database, settings).rotate() }
            try await Self.expectFullLoadsTable(stack, after: "the signing key rotated")
            #expect(try await devportal.send(.delete, "applications/\(application)").status == .noContent)
            try await Self.expectFullLoadsTable(stack, after: "an application deleted")
            #expect(try await publisher.send(.delete, "\(RESTClient.subscriptionPlans)/\(plan)").status == .noContent)
            try await Self.expectFullLoadsTable(stack, after: "a plan deleted")

            #expect(stack.gateway.snapshot.fullLoads == fullLoads, "every change was applied on its own, none by a full load")

            // Any other notification (an operator's) makes the gateway load in full.
            try await TestDatabase.notifyChanges(stack.databaseURL)
            #expect(await eventually(within: 10) { stack.gateway.snapshot.fullLoads == fullLoads + 1 })
        }
    }

    @Test func aGatewayThatMissedNotificationsCatchesUpFromTheChangeLog() async throws {
        try await InProcessStack.run(extra: Self.noPeriodicReload) { stack in
            try await stack.settle()
            let fullLoads = stack.gateway.snapshot.fullLoads
            let open = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            // The gateway's LISTEN connection dropped, and changes made before it is back.
            let database = Database(url: stack.databaseURL, poolSize: 1, logger: TestDatabase.logger)
            try await database.withRunningClient {
                let dropped = try await database.client.query(
                    """
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE datname = current_database() AND query ILIKE 'LISTEN%portico_changes%'
                    """,
                    logger: TestDatabase.logger
                ).collect().first?.decode(Int.self)
                #expect(dropped == 1, "the gateway's LISTEN connection")
            }
            let application = try await stack.createApplication("Missed")
            _ = try await stack.devportalAPI.generateKeys(application)
            try await stack.revoke(stack.token)
            try await Self.expectFullLoadsTable(stack, after: "a LISTEN connection lost")
            #expect(stack.gateway.snapshot.fullLoads == fullLoads, "caught up from the change log, not by a full load")
            #expect(await open.closeCode(within: 5) == .unknown(4001), "the revocation made while it was away closed the connection")
        }
    }

    @Test func fullReloadsRunBesideTheChangesAndLoseNone() async throws {
        try await InProcessStack.run(extra: Self.noPeriodicReload) { stack in
            try await stack.settle()
            let fullLoads = stack.gateway.snapshot.fullLoads
            // Operators' reloads asked for while applications, keys and subscriptions are made: each
            // reload, once loaded, takes the changes made meanwhile from the log before it is used.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for _ in 0..<5 {
                        try await TestDatabase.notifyChanges(stack.databaseURL)
                        await pause(.milliseconds(30))
                    }
                }
                group.addTask {
                    for index in 0..<6 {
                        let application = try await stack.createApplication("Beside \(index)")
                        _ = try await stack.devportalAPI.generateKeys(application)
                        try await stack.subscribe(application, to: stack.apiID)
                    }
                }
                try await group.waitForAll()
            }
            try await Self.expectFullLoadsTable(stack, after: "reloads beside changes")
            #expect(stack.gateway.snapshot.fullLoads > fullLoads)

            // A load older than the changes made since (they were applied to the current table while
            // it ran) is brought up to the log's last change before it is used: never a step back.
            let older = try await Self.fullLoad(stack.databaseURL)
            let application = try await stack.createApplication("After the load")
            try await stack.subscribe(application, to: stack.apiID)
            try await stack.settle()
            let current = try #require(stack.gateway.snapshot.current)
            #expect(older.seq < current.seq)
            let database = Database(url: stack.databaseURL, poolSize: 1, logger: TestDatabase.logger)
            let taken = try await database.withRunningClient {
                let service = SnapshotService(
                    store: GatewayCatalogStore(database: database),
                    holder: stack.gateway.snapshot,
                    connections: stack.gateway.connections,
                    settings: stack.gateway.settings,
                    logger: TestDatabase.logger
                )
                #expect(await service.takeOver(older))
                return try #require(stack.gateway.snapshot.current)
            }
            #expect(taken.seq == current.seq)
            let same = taken.holdsTheSameCatalog(as: current)
            #expect(same)
            // And the table still acts: a revocation closes the connection.
            let open = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await TestDatabase.notifyChanges(stack.databaseURL)
            try await stack.revoke(stack.token)
            #expect(await open.closeCode(within: 5) == .unknown(4001))
        }
    }

    @Test func twoGatewaysApplyTheSameChangesInTheSameOrder() async throws {
        try await InProcessStack.run(extra: Self.noPeriodicReload) { stack in
            // A second gateway's snapshot service on the same database.
            let database = Database(url: stack.databaseURL, poolSize: 2, logger: TestDatabase.logger)
            let holder = SnapshotHolder()
            try await database.withRunningClient {
                let service = SnapshotService(
                    store: GatewayCatalogStore(database: database),
                    holder: holder,
                    connections: Connections(),
                    settings: try GatewaySettings(source: SettingsSource(values: TestSettings.stack(stack.databaseURL))),
                    logger: TestDatabase.logger
                )
                let running = Task { try await service.run() }
                defer { running.cancel() }
                #expect(await eventually(within: 10) { holder.isListening && holder.current != nil })
                let start = try #require(holder.current).seq
                let generations = holder.generation
                for name in ["One", "Two", "Three"] {
                    let application = try await stack.createApplication(name)
                    try await stack.subscribe(application, to: stack.apiID)
                }
                try await stack.settle()
                let last = try #require(stack.gateway.snapshot.current)
                #expect(await eventually(within: 10) { holder.current?.seq == last.seq })
                let second = try #require(holder.current)
                let same = second.holdsTheSameCatalog(as: last)
                #expect(same)
                // One new table per change, each the next in order: no change skipped, none twice.
                #expect(holder.generation - generations == Int(last.seq - start))
            }
        }
    }
}
