import Testing

@testable import PorticoCore

@Suite struct LifecycleStateTests {
    /// WSO2 API Manager's default transition table, written out once more by hand.
    static let expected: [LifecycleState: [LifecycleAction: LifecycleState]] = [
        .created: [.publish: .published, .deployAsPrototype: .prototyped],
        .prototyped: [.publish: .published, .demoteToCreated: .created],
        .published: [.block: .blocked, .deprecate: .deprecated, .demoteToCreated: .created, .deployAsPrototype: .prototyped],
        .blocked: [.republish: .published, .deprecate: .deprecated],
        .deprecated: [.retire: .retired],
        .retired: [:],
    ]

    @Test(arguments: LifecycleState.allCases)
    func transitionTableMatchesWSO2(state: LifecycleState) {
        for action in LifecycleAction.allCases {
            #expect(state.target(of: action) == Self.expected[state]?[action], "\(state) × \(action)")
        }
    }

    @Test func readinessNamesWhatIsMissing() {
        var api = WebSocketAPI(
            id: "x",
            name: "n",
            description: "",
            context: "/c",
            version: "1",
            provider: "p",
            lifecycleState: .created,
            isDefaultVersion: false,
            visibility: .public,
            plans: [],
            productionEndpoint: nil,
            sandboxEndpoint: nil,
            revision: 1,
            createdAt: .now,
            updatedAt: .now
        )
        #expect(api.readinessProblem(for: .published)?.contains("business plan") == true)
        api.plans = ["Gold"]
        #expect(api.readinessProblem(for: .published)?.contains("production endpoint") == true)
        #expect(api.readinessProblem(for: .prototyped)?.contains("production endpoint") == true)
        api.productionEndpoint = "ws://h"
        #expect(api.readinessProblem(for: .published) == nil)
        #expect(api.readinessProblem(for: .blocked) == nil)
    }
}
