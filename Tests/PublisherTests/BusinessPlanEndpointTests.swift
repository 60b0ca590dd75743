import Foundation
import Hummingbird
import Testing

@testable import publisher

@Suite struct BusinessPlanEndpointTests {
    static let path = "/api/am/admin/v4/throttling-policies/subscription"

    @Test func seededPlansAreListedToProviders() async throws {
        try await PublisherHarness.run { client in
            let list = try await client.send(.get, "throttling-policies/streaming/subscription").json
            let plans = list["list"] as? [[String: Any]] ?? []
            #expect(plans.compactMap { $0["name"] as? String } == ["Unlimited", "Gold", "Silver", "Bronze"])
            let gold = plans.first { $0["name"] as? String == "Gold" }
            #expect(gold?["requestCount"] as? Int == 50000)
            #expect(gold?["timeUnit"] as? String == "day")
            #expect(gold?["subscriberCount"] as? Int == 100)
            #expect(plans.first?["requestCount"] == nil, "Unlimited has no event limit")
        }
    }

    @Test func adminManagesPlans() async throws {
        try await PublisherHarness.run { admin in
            let body =
                #"{"policyName":"Platinum","displayName":"Platinum","description":"Big","defaultLimit":{"type":"EVENTCOUNTLIMIT","eventCount":{"timeUnit":"min","unitTime":1,"eventCount":1000}},"subscriberCount":5}"#
            let created = try await admin.send(.post, Self.path, json: body)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created["policyId"] as? String)
            #expect(created.headers[.location] == "\(Self.path)/\(id)")
            try await admin.send(.post, Self.path, json: body).expectError(.conflict, mentioning: "Platinum")
            #expect(try await admin.createAPI(["policies": ["Platinum"]]).status == .created, "a new plan is usable at once")

            let updated = try await admin.send(
                .put,
                "\(Self.path)/\(id)",
                json: #"{"displayName":"Platinum+","subscriberCount":9,"defaultLimit":null}"#
            )
            #expect(updated.status == .ok, "\(updated.text)")
            #expect(updated["subscriberCount"] as? Int == 9)
            #expect(updated["defaultLimit"] == nil)
            #expect(updated["excessAction"] as? String == "drop", "the default action")
            #expect(updated["countedDirections"] as? String == "both", "both directions count by default")
            let enforced = try await admin.send(
                .put,
                "\(Self.path)/\(id)",
                json: #"{"displayName":"Platinum+","maxMessageBytes":65536,"excessAction":"close","countedDirections":"clientToBackend"}"#
            )
            #expect(enforced["maxMessageBytes"] as? Int == 65536)
            #expect(enforced["excessAction"] as? String == "close")
            #expect(enforced["countedDirections"] as? String == "clientToBackend")
            let listed = try await admin.send(.get, "throttling-policies/streaming/subscription").json["list"] as? [[String: Any]] ?? []
            #expect(listed.first { $0["name"] as? String == "Platinum" }?["excessAction"] as? String == "close")
            #expect(try await admin.send(.get, "\(Self.path)/\(id)")["displayName"] as? String == "Platinum+")
            try await admin.send(.put, "\(Self.path)/\(id)", json: #"{"policyName":"Other"}"#).expectError(.badRequest, mentioning: "'policyName'")

            try await admin.send(.delete, "\(Self.path)/\(id)").expectError(.conflict, mentioning: "in use", "EchoWebSocket 1.0.0")
            let spare = try await admin.send(.post, Self.path, json: #"{"policyName":"Spare"}"#)
            #expect(spare.status == .created)
            #expect(try await admin.send(.delete, "\(Self.path)/\(spare["policyId"] as? String ?? "")").status == .noContent)
            try await admin.send(.get, "\(Self.path)/\(UUID())").expectError(.notFound)
            try await admin.send(.delete, "\(Self.path)/\(UUID())").expectError(.notFound)
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
            try await admin.send(.post, Self.path, json: body).expectError(.badRequest, mentioning: "'\(field)'")
        }
    }
}
