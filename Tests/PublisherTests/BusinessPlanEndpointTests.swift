import Foundation
import Hummingbird
import PorticoTestSupport
import Testing

@testable import publisher

@Suite struct BusinessPlanEndpointTests {

    @Test func seededPlansAreListedToProviders() async throws {
        try await PublisherHarness.run { client in
            let list = try await client.send(.get, "throttling-policies/streaming/subscription").json
            let plans = list["list"].array
            #expect(plans.compactMap { $0["name"].string } == ["Unlimited", "Gold", "Silver", "Bronze"])
            let gold = plans.first { $0["name"].string == "Gold" }
            #expect(gold?["requestCount"].int == 50000)
            #expect(gold?["timeUnit"].string == "day")
            #expect(gold?["subscriberCount"].int == 100)
            #expect(plans.first?["requestCount"] == .null, "Unlimited has no event limit")
        }
    }

    @Test func adminManagesPlans() async throws {
        try await PublisherHarness.run { admin in
            let body =
                #"{"policyName":"Platinum","displayName":"Platinum","description":"Big","defaultLimit":{"type":"EVENTCOUNTLIMIT","eventCount":{"timeUnit":"min","unitTime":1,"eventCount":1000}},"subscriberCount":5}"#
            let created = try await admin.send(.post, RESTClient.subscriptionPlans, json: body)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created["policyId"].string)
            #expect(created.headers[.location] == "\(RESTClient.subscriptionPlans)/\(id)")
            try await admin.send(.post, RESTClient.subscriptionPlans, json: body).expectError(.conflict, mentioning: "Platinum")
            #expect(try await admin.createAPI(["policies": ["Platinum"]]).status == .created, "a new plan is usable at once")

            let updated = try await admin.send(
                .put,
                "\(RESTClient.subscriptionPlans)/\(id)",
                json: #"{"displayName":"Platinum+","subscriberCount":9,"defaultLimit":null}"#
            )
            #expect(updated.status == .ok, "\(updated.text)")
            #expect(updated["subscriberCount"].int == 9)
            #expect(updated["defaultLimit"] == nil)
            #expect(updated["excessAction"].string == "drop", "the default action")
            #expect(updated["countedDirections"].string == "both", "both directions count by default")
            let enforced = try await admin.send(
                .put,
                "\(RESTClient.subscriptionPlans)/\(id)",
                json: #"{"displayName":"Platinum+","maxMessageBytes":65536,"excessAction":"close","countedDirections":"clientToBackend"}"#
            )
            #expect(enforced["maxMessageBytes"].int == 65536)
            #expect(enforced["excessAction"].string == "close")
            #expect(enforced["countedDirections"].string == "clientToBackend")
            let listed = try await admin.send(.get, "throttling-policies/streaming/subscription").json["list"].array
            #expect(listed.first { $0["name"].string == "Platinum" }?["excessAction"].string == "close")
            #expect(try await admin.send(.get, "\(RESTClient.subscriptionPlans)/\(id)")["displayName"].string == "Platinum+")
            try await admin.send(.put, "\(RESTClient.subscriptionPlans)/\(id)", json: #"{"policyName":"Other"}"#).expectError(
                .badRequest,
                mentioning: "'policyName'"
            )

            try await admin.send(.delete, "\(RESTClient.subscriptionPlans)/\(id)").expectError(.conflict, mentioning: "in use", "EchoWebSocket 1.0.0")
            let spare = try await admin.send(.post, RESTClient.subscriptionPlans, json: #"{"policyName":"Spare"}"#)
            #expect(spare.status == .created)
            #expect(try await admin.send(.delete, "\(RESTClient.subscriptionPlans)/\(spare["policyId"].string ?? "")").status == .noContent)
            try await admin.send(.get, "\(RESTClient.subscriptionPlans)/\(UUID())").expectError(.notFound)
            try await admin.send(.delete, "\(RESTClient.subscriptionPlans)/\(UUID())").expectError(.notFound)
        }
    }

    @Test(arguments: [
        (#"{"displayName":"x"}"#, "policyName"),
        (#"{"policyName":"has space"}"#, "policyName"),
        (#"{"policyName":"P","defaultLimit":{"type":"REQUESTCOUNTLIMIT"}}"#, "defaultLimit.type"),
        (#"{"policyName":"P","defaultLimit":{"type":"EVENTCOUNTLIMIT"}}"#, "defaultLimit.eventCount"),
        (#"{"policyName":"P","defaultLimit":{"eventCount":{"eventCount":0}}}"#, "defaultLimit.eventCount.eventCount"),
        (#"{"policyName":"P","defaultLimit":{"eventCount":{"eventCount":5,"timeUnit":"week"}}}"#, "defaultLimit.eventCount.timeUnit"),
        (#"{"policyName":"P","defaultLimit":{"eventCount":{"eventCount":5,"unitTime":0}}}"#, "defaultLimit.eventCount.unitTime"),
        (#"{"policyName":"P","subscriberCount":-1}"#, "subscriberCount"),
        (#"{"policyName":"P","subscriberCount":"many"}"#, "subscriberCount"),
        (#"{"policyName":"P","maxMessageBytes":0}"#, "maxMessageBytes"),
        (#"{"policyName":"P","excessAction":"throttle"}"#, "excessAction"),
        (#"{"policyName":"P","countedDirections":"in"}"#, "countedDirections"),
    ])
    func invalidPlanFieldIsNamed(body: String, field: String) async throws {
        try await PublisherHarness.run { admin in
            try await admin.send(.post, RESTClient.subscriptionPlans, json: body).expectError(.badRequest, mentioning: "'\(field)'")
        }
    }
}
