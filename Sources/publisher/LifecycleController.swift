import Foundation
import Hummingbird
import PorticoCore

/// The lifecycle of an API: `change-lifecycle`, `lifecycle-state`, `lifecycle-history`.
struct LifecycleController {
    let apis: APIStore

    struct Transition: Encodable {
        let event: String
        let targetState: String
    }

    /// WSO2's `LifecycleState`: the state, where it may go, and (always empty here) check items.
    struct StateRepresentation: ResponseEncodable {
        let state: String
        let availableTransitions: [Transition]
        let checkItems: [String] = []

        init(_ state: LifecycleState) {
            self.state = state.rawValue
            availableTransitions = state.transitions.map { Transition(event: $0.action.rawValue, targetState: $0.target.rawValue) }
        }
    }

    struct ChangeResult: ResponseEncodable {
        let workflowStatus = "APPROVED"
        let lifecycleState: StateRepresentation
    }

    struct HistoryItem: Encodable, Sendable {
        let previousState: String?
        let postState: String
        let action: String
        let user: String
        let updatedTime: Date
    }

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .post("change-lifecycle", use: change)
            .get("{apiId}/lifecycle-state", use: state)
            .get("{apiId}/lifecycle-history", use: history)
    }

    @Sendable func change(_ request: Request, context: Context) async throws -> EditedResponse<ChangeResult> {
        let user = try context.require(.publisher, to: "change the lifecycle of APIs")
        let query = request.queryParameters
        guard let id = query["apiId"] else { throw APIError.invalidParameter("apiId", "The parameter is required") }
        guard let name = query["action"] else { throw APIError.invalidParameter("action", "The parameter is required") }
        guard let action = LifecycleAction.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(name) == .orderedSame }) else {
            let current = try await APIsController.find(id, in: apis)
            throw APIError.invalidParameter(
                "action",
                "'\(name)' is not a lifecycle action; allowed from \(current.lifecycleState.rawValue): "
                    + current.lifecycleState.allowedActions
            )
        }
        let api = try await apis.changeLifecycle(id: id, action: action, user: user.username, ifMatch: request.headers[.ifMatch])
        return EditedResponse(headers: [.eTag: api.eTag], response: ChangeResult(lifecycleState: StateRepresentation(api.lifecycleState)))
    }

    @Sendable func state(_ request: Request, context: Context) async throws -> EditedResponse<StateRepresentation> {
        _ = try context.requireAny([.creator, .publisher], to: "read APIs")
        let api = try await APIsController.find(try context.parameters.require("apiId"), in: apis)
        return EditedResponse(headers: [.eTag: api.eTag], response: StateRepresentation(api.lifecycleState))
    }

    @Sendable func history(_ request: Request, context: Context) async throws -> CountedList<HistoryItem> {
        _ = try context.requireAny([.creator, .publisher], to: "read APIs")
        let id = try context.parameters.require("apiId")
        guard let events = try await apis.history(id: id) else { throw APIError.notFound("No API with id '\(id)'") }
        let items = events.map {
            HistoryItem(
                previousState: $0.previousState?.rawValue,
                postState: $0.postState.rawValue,
                action: $0.action,
                user: $0.user,
                updatedTime: $0.at
            )
        }
        return CountedList(items)
    }
}
