import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import Testing

@testable import publisher

/// The publisher's view of subscriptions: list them per API, block and unblock them, and refuse to
/// delete an API that still has them. Subscriptions are made through the stores, as the devportal does.
@Suite struct SubscriptionEndpointTests {
    @Test func providersListBlockAndUnblockSubscriptions() async throws {
        try await PublisherHarness.runWithDatabase { admin, database in
            let api = try await admin.createAPI()
            #expect(try await admin.lifecycle(api.id, "Publish").status == .ok)
            let subscriptionID = try await Self.subscribe(to: api.id, in: database)

            let list = try await admin.send(.get, "subscriptions?apiId=\(api.id)").json
            let entry = try #require(list["list"].array.first)
            #expect(entry["subscriptionId"].string == subscriptionID)
            #expect(entry["throttlingPolicy"].string == "Gold")
            #expect(entry["subscriptionStatus"].string == "UNBLOCKED")
            #expect(entry["applicationInfo"]["subscriber"].string == "dev")

            let blocked = try await admin.send(
                .post,
                "subscriptions/block-subscription?subscriptionId=\(subscriptionID)&blockState=PROD_ONLY_BLOCKED"
            )
            #expect(blocked.status == .ok, "\(blocked.text)")
            #expect(blocked["subscriptionStatus"].string == "PROD_ONLY_BLOCKED")
            #expect(
                try await admin.send(.post, "subscriptions/block-subscription?subscriptionId=\(subscriptionID)&blockState=BLOCKED")[
                    "subscriptionStatus"
                ].string == "BLOCKED"
            )
            #expect(
                try await admin.send(.post, "subscriptions/unblock-subscription?subscriptionId=\(subscriptionID)")["subscriptionStatus"].string
                    == "UNBLOCKED"
            )
            try await admin.send(.post, "subscriptions/block-subscription?subscriptionId=\(subscriptionID)&blockState=MAYBE")
                .expectError(.badRequest, mentioning: "'blockState'")
            try await admin.send(.post, "subscriptions/block-subscription?subscriptionId=\(UUID())&blockState=BLOCKED").expectError(.notFound)
            try await admin.send(.post, "subscriptions/unblock-subscription").expectError(.badRequest, mentioning: "'subscriptionId'")
            try await admin.send(.get, "subscriptions").expectError(.badRequest, mentioning: "'apiId'")
            try await admin.send(.get, "subscriptions?apiId=\(UUID())").expectError(.notFound)

            let creator = try await admin.user("carol", roles: ["creator"])
            try await creator.send(.post, "subscriptions/unblock-subscription?subscriptionId=\(subscriptionID)").expectError(.forbidden)
            #expect(try await creator.send(.get, "subscriptions?apiId=\(api.id)").status == .ok)

            try await admin.send(.delete, "apis/\(api.id)").expectError(.conflict, mentioning: "1 subscription")
            #expect(try await admin.send(.get, "apis/\(api.id)").status == .ok, "the API is still there")
        }
    }

    /// A developer, an application and a Gold subscription to `apiID`, as the devportal makes them.
    static func subscribe(to apiID: String, in database: Database) async throws -> String {
        let dev = try await UserStore(database: database, hasher: SecretHasher(cost: 4, pool: BcryptPool()))
            .create(username: "dev", password: "password-1", email: nil, roles: [.subscriber])
        let app = try await ApplicationStore(database: database).create(name: "App", description: "", plan: "Unlimited", owner: dev)
        return try await SubscriptionStore(database: database).create(applicationID: app.id, apiID: apiID, plan: "Gold", owner: dev).id
    }
}
