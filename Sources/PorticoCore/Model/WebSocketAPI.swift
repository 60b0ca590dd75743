import Foundation

/// A WebSocket API as the provider designed it: where it is served (context and version), where it
/// relays to (endpoints), who may subscribe (plans) and where it stands (lifecycle).
package struct WebSocketAPI: Sendable, Equatable {
    package enum Visibility: String, Codable, Sendable, CaseIterable {
        /// Listed to everyone, anonymous devportal visitors included.
        case `public` = "PUBLIC"
        /// Listed only to signed-in devportal users.
        case `private` = "PRIVATE"
    }

    package var id: String
    package var name: String
    package var description: String
    package var context: String
    package var version: String
    package var provider: String
    package var lifecycleState: LifecycleState
    package var isDefaultVersion: Bool
    package var visibility: Visibility
    /// Business plan names, in the order the provider gave them.
    package var plans: [String]
    package var productionEndpoint: String?
    package var sandboxEndpoint: String?
    /// A PEM file (path on the gateway hosts) of the CAs a wss:// backend's certificate must chain
    /// to; nil: the system's trust roots.
    package var backendCAFile: String?
    /// The route table of an API whose messages go to integrations; nil for a proxied API.
    package var routes: APIRoutes?
    /// The API's own limits (event ceiling, message size, idle timeout, lifetime, allowed origins).
    package var limits: APILimits
    /// Connect timeout and suspension of the backend endpoints.
    package var resilience: EndpointResilience
    /// Incremented on every change; the REST ETag is derived from it.
    package var revision: Int
    package var createdAt: Date
    package var updatedAt: Date

    package init(
        id: String,
        name: String,
        description: String,
        context: String,
        version: String,
        provider: String,
        lifecycleState: LifecycleState,
        isDefaultVersion: Bool,
        visibility: Visibility,
        plans: [String],
        productionEndpoint: String?,
        sandboxEndpoint: String?,
        backendCAFile: String? = nil,
        routes: APIRoutes? = nil,
        limits: APILimits = .init(),
        resilience: EndpointResilience = .init(),
        revision: Int,
        createdAt: Date,
        updatedAt: Date
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.context = context
        self.version = version
        self.provider = provider
        self.lifecycleState = lifecycleState
        self.isDefaultVersion = isDefaultVersion
        self.visibility = visibility
        self.plans = plans
        self.productionEndpoint = productionEndpoint
        self.sandboxEndpoint = sandboxEndpoint
        self.backendCAFile = backendCAFile
        self.routes = routes
        self.limits = limits
        self.resilience = resilience
        self.revision = revision
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The strong entity tag of this revision of the API.
    package var eTag: String { "\"\(id)-r\(revision)\"" }

    /// Why the API cannot enter `target` as it is, or nil when it can.
    package func readinessProblem(for target: LifecycleState) -> String? {
        switch target {
        case .published:
            if plans.isEmpty { return "No business plan (tiers) selected: add at least one plan to publish the API" }
            if productionEndpoint == nil && routes == nil {
                return "No production endpoint: set endpointConfig.production_endpoints.url (or routes) to publish the API"
            }
        case .prototyped:
            if productionEndpoint == nil && routes == nil {
                return "No production endpoint: set endpointConfig.production_endpoints.url (or routes) to prototype the API"
            }
        default:
            break
        }
        return nil
    }
}

/// One entry of an API's lifecycle history.
package struct LifecycleEvent: Sendable, Equatable {
    package var previousState: LifecycleState?
    package var postState: LifecycleState
    package var action: String
    package var user: String
    package var at: Date

    package init(previousState: LifecycleState?, postState: LifecycleState, action: String, user: String, at: Date) {
        self.previousState = previousState
        self.postState = postState
        self.action = action
        self.user = user
        self.at = at
    }
}
