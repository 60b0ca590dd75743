import Foundation

/// Everything a gateway serves from, read in one repeatable-read transaction so that the parts agree.
/// Gateways never query per handshake or per message: they hold this in memory and reload it
/// when `portico_changes` says something changed.
public struct GatewayCatalog: Sendable {
    public struct API: Sendable, Equatable {
        public let id: String
        public let name: String
        public let context: String
        public let version: String
        public let state: LifecycleState
        public let isDefaultVersion: Bool
        public let productionEndpoint: String?
        public let sandboxEndpoint: String?
        /// The CA bundle wss:// backends are verified against (nil: the system's roots).
        public var backendCAFile: String? = nil
        /// The API's limits; `allowedOrigins` normalized (`APILimits.normalizedOrigin`).
        public var limits = APILimits()
        public var resilience = EndpointResilience()
    }

    public struct Subscription: Sendable, Equatable {
        public let id: String
        public let applicationID: String
        public let apiID: String
        public let status: PorticoCore.Subscription.Status
        public var planID = ""
    }

    public struct Key: Sendable, Equatable {
        public let consumerKey: String
        public let applicationID: String
        public let keyType: KeyType
    }

    public struct SigningKey: Sendable {
        public let kid: String
        public let publicKeyPEM: String
    }

    public var apis: [API]
    public var subscriptions: [Subscription]
    public var applicationIDs: Set<String>
    /// Business plans by id.
    public var plans: [String: BusinessPlan] = [:]
    /// The event limits of applications' plans, by application id (applications without a limit absent).
    public var applicationLimits: [String: BusinessPlan.EventLimit] = [:]
    public var keys: [Key]
    /// Revoked token ids and when the tokens expire.
    public var revokedTokens: [String: Date]
    public var signingKeys: [SigningKey]
    /// When the load began: the catalog holds every change committed before it.
    public var loadedAt: Date
}
