import Foundation
import Hummingbird
import PorticoCore
import Testing

@testable import publisher

@Suite struct LifecycleEndpointTests {
    /// How to reach each state from CREATED.
    static let paths: [LifecycleState: [String]] = [
        .created: [],
        .prototyped: ["Deploy as a Prototype"],
        .published: ["Publish"],
        .blocked: ["Publish", "Block"],
        .deprecated: ["Publish", "Deprecate"],
        .retired: ["Publish", "Deprecate", "Retire"],
    ]

    @Test(arguments: LifecycleState.allCases)
    func everyActionFromEveryState(state: LifecycleState) async throws {
        try await PublisherHarness.run { client in
            for (index, action) in LifecycleAction.allCases.enumerated() {
                let api = try await client.createAPI(["name": "Api\(index)", "context": "/api\(index)"])
                for step in Self.paths[state]! {
                    #expect(try await client.lifecycle(api.id, step).status == .ok)
                }
                let historyBefore = try await client.send(.get, "apis/\(api.id)/lifecycle-history")["count"].int
                let reply = try await client.lifecycle(api.id, action.rawValue)
                let after = try await client.send(.get, "apis/\(api.id)")
                let history = try await client.send(.get, "apis/\(api.id)/lifecycle-history").json
                if let target = state.target(of: action) {
                    #expect(reply.status == .ok, "\(state) × \(action): \(reply.text)")
                    #expect(reply["workflowStatus"].string == "APPROVED")
                    let lifecycleState = reply["lifecycleState"]
                    #expect(lifecycleState["state"].string == target.rawValue)
                    #expect(lifecycleState["availableTransitions"] != nil, "the list is there, even when empty")
                    let transitions = lifecycleState["availableTransitions"].array
                    #expect(transitions.map { $0["event"].string } == target.transitions.map(\.action.rawValue))
                    #expect(after["lifeCycleStatus"].string == target.rawValue)
                    #expect(history["count"].int == (historyBefore ?? 0) + 1)
                    let last = history["list"].array.last
                    #expect(last?["previousState"].string == state.rawValue)
                    #expect(last?["postState"].string == target.rawValue)
                    #expect(last?["user"].string == "admin")
                } else {
                    reply.expectError(.badRequest, mentioning: "not allowed from \(state.rawValue)")
                    #expect(after["lifeCycleStatus"].string == state.rawValue, "\(state) × \(action) changed nothing")
                    #expect(history["count"].int == historyBefore, "\(state) × \(action) wrote no history")
                }
            }
        }
    }

    @Test func publishingNeedsAPlanAndAProductionEndpoint() async throws {
        try await PublisherHarness.run { client in
            let noPlans = try await client.createAPI(["policies": [String]()])
            try await client.lifecycle(noPlans.id, "Publish").expectError(.badRequest, mentioning: "No business plan")
            let noEndpoint = try await client.createAPI(json: #"{"name": "Bare", "context": "/bare", "endpointConfig": {"endpoint_type": "ws"}}"#)
            #expect(noEndpoint.status == .created, "an API may be created without an endpoint")
            try await client.lifecycle(noEndpoint.id, "Publish").expectError(.badRequest, mentioning: "No production endpoint")
            try await client.lifecycle(noEndpoint.id, "Deploy as a Prototype").expectError(.badRequest, mentioning: "No production endpoint")
        }
    }

    @Test func unknownActionListsTheAllowedOnes() async throws {
        try await PublisherHarness.run { client in
            let api = try await client.createAPI()
            try await client.lifecycle(api.id, "Launch").expectError(.badRequest, mentioning: "'action'", "'Publish', 'Deploy as a Prototype'")
            try await client.send(.post, "apis/change-lifecycle?apiId=\(api.id)").expectError(.badRequest, mentioning: "'action'")
            try await client.send(.post, "apis/change-lifecycle?action=Publish").expectError(.badRequest, mentioning: "'apiId'")
            try await client.lifecycle(UUID().uuidString, "Publish").expectError(.notFound)
            #expect(try await client.lifecycle(api.id, "publish").status == .ok, "actions are case-insensitive")
        }
    }

    @Test func stateAndHistoryAreReadable() async throws {
        try await PublisherHarness.run { client in
            let api = try await client.createAPI()
            let publisher = try await client.user("pat", roles: ["publisher"])
            #expect(try await publisher.lifecycle(api.id, "Publish").status == .ok)
            let state = try await client.send(.get, "apis/\(api.id)/lifecycle-state").json
            #expect(state["state"].string == "PUBLISHED")
            #expect(state["availableTransitions"].array.count == 4)
            let history = try await client.send(.get, "apis/\(api.id)/lifecycle-history").json
            let list = history["list"].array
            #expect(list.map { $0["postState"].string } == ["CREATED", "PUBLISHED"])
            #expect(list.map { $0["user"].string } == ["admin", "pat"])
            #expect(list.last?["action"].string == "Publish")
            #expect(list.last?["updatedTime"].string != nil)
            try await client.send(.get, "apis/\(UUID())/lifecycle-state").expectError(.notFound)
            try await client.send(.get, "apis/\(UUID())/lifecycle-history").expectError(.notFound)
        }
    }
}
