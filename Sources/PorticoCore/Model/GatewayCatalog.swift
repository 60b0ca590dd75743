import Foundation

/// Everything a gateway serves from, read in one repeatable-read transaction so that the parts agree.
/// Gateways never query per handshake or per message: they hold this in memory and reload it
/// when `portico_changes` says something changed.
package struct GatewayCatalog: Sendable {
    package struct API: Sendable, Equatable {
        package let id: String
        package let name: String
        package let context: String
        package let version: String
        package let state: LifecycleState
        package let isDefaultVersion: Bool
        package let productionEndpoint: String?
        package let sandboxEndpoint: String?
        /// The CA bundle wss:// backends are verified against (nil: the system's roots).
        package var backendCAFile: String? = nil
        /// The route table of an API whose messages go to integrations (nil: proxied to its endpoint).
        package var routes: APIRoutes? = nil
        /// The API's limits; `allowedOrigins` normalized (`APILimits.normalizedOrigin`).
        package var limits = APILimits()
        package var resilience = EndpointResilience()
    }

    package struct Subscription: Sendable, Equatable {
        package let id: String
        package let applicationID: String
        package let apiID: String
        package let status: PorticoCore.Subscription.Status
        package var planID = ""
    }

    package struct Key: Sendable, Equatable {
        package let consumerKey: String
        package let applicationID: String
        package let keyType: KeyType
    }

    /// A connection key: the API it opens and the bcrypt hash of its secret.
    package struct ConnectionKey: Sendable, Equatable {
        package let apiID: String
        package let secretHash: String
    }

    package struct SigningKey: Sendable {
        package let kid: String
        package let publicKeyPEM: String
    }

    package var apis: [API]
    package var subscriptions: [Subscription]
    package var applicationIDs: Set<String>
    /// Business plans by id.
    package var plans: [String: BusinessPlan] = [:]
    /// The event limits of applications' plans, by application id (applications without a limit absent).
    package var applicationLimits: [String: BusinessPlan.EventLimit] = [:]
    package var keys: [Key]
    /// Revoked token ids and when the tokens expire.
    package var revokedTokens: [String: Date]
    package var signingKeys: [SigningKey]
    /// Connection keys by id (`ConnectionKey`).
    package var connectionKeys: [String: ConnectionKey] = [:]
    /// When the load began: the catalog holds every change committed before it.
    package var loadedAt: Date
}
