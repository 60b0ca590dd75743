/// Where a WebSocket API stands in its lifecycle, with WSO2 API Manager's default transition table.
///
/// | state      | served by the gateway                   | visible in the devportal |
/// |------------|-----------------------------------------|--------------------------|
/// | CREATED    | no                                      | no                       |
/// | PROTOTYPED | yes, to any valid token                 | yes                      |
/// | PUBLISHED  | yes, to subscribers                     | yes                      |
/// | BLOCKED    | no (503)                                | no                       |
/// | DEPRECATED | to existing subscribers only            | to its subscribers       |
/// | RETIRED    | no                                      | no                       |
package enum LifecycleState: String, Codable, Sendable, CaseIterable {
    case created = "CREATED"
    case prototyped = "PROTOTYPED"
    case published = "PUBLISHED"
    case blocked = "BLOCKED"
    case deprecated = "DEPRECATED"
    case retired = "RETIRED"

    /// The actions allowed from this state and where each leads, in a stable order.
    package var transitions: [(action: LifecycleAction, target: LifecycleState)] {
        switch self {
        case .created: [(.publish, .published), (.deployAsPrototype, .prototyped)]
        case .prototyped: [(.publish, .published), (.demoteToCreated, .created)]
        case .published: [(.block, .blocked), (.deprecate, .deprecated), (.demoteToCreated, .created), (.deployAsPrototype, .prototyped)]
        case .blocked: [(.republish, .published), (.deprecate, .deprecated)]
        case .deprecated: [(.retire, .retired)]
        case .retired: []
        }
    }

    /// The state `action` leads to from here, or nil when the action is not allowed here.
    package func target(of action: LifecycleAction) -> LifecycleState? {
        transitions.first { $0.action == action }?.target
    }

    /// The actions allowed from here, quoted, for an error that refuses another one:
    /// `'Publish', 'Deploy as a Prototype'`, or `none (RETIRED is final)`.
    package var allowedActions: String {
        let allowed = transitions.map { "'\($0.action.rawValue)'" }
        return allowed.isEmpty ? "none (\(rawValue) is final)" : allowed.joined(separator: ", ")
    }
}

/// A lifecycle action, spelled as WSO2 API Manager spells it in `change-lifecycle?action=`.
package enum LifecycleAction: String, Codable, Sendable, CaseIterable {
    case publish = "Publish"
    case deployAsPrototype = "Deploy as a Prototype"
    case demoteToCreated = "Demote to Created"
    case block = "Block"
    case republish = "Re-Publish"
    case deprecate = "Deprecate"
    case retire = "Retire"
}
