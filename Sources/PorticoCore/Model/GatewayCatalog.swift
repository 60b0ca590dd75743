import Foundation

/// Everything a gateway serves from, read in one repeatable-read transaction so that the parts agree.
/// Gateways never query per handshake or per message: they hold this in memory, apply each change
/// `portico_changes` announces (`Update`), and reload it in full only as a safety net.
package struct GatewayCatalog: Sendable, GatewayCatalogSink {
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

    package struct SigningKey: Sendable, Equatable {
        package let kid: String
        package let publicKeyPEM: String
        /// A retired key's end of publication: after it the key verifies nothing (nil: the active key).
        package let publishedUntil: Date?

        package init(kid: String, publicKeyPEM: String, publishedUntil: Date? = nil) {
            self.kid = kid
            self.publicKeyPEM = publicKeyPEM
            self.publishedUntil = publishedUntil
        }
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
    /// The last change (`Change.seq`) the catalog includes.
    package var seq: Int64 = 0

    package init(
        apis: [API] = [],
        subscriptions: [Subscription] = [],
        applicationIDs: Set<String> = [],
        plans: [String: BusinessPlan] = [:],
        applicationLimits: [String: BusinessPlan.EventLimit] = [:],
        keys: [Key] = [],
        revokedTokens: [String: Date] = [:],
        signingKeys: [SigningKey] = [],
        connectionKeys: [String: ConnectionKey] = [:],
        loadedAt: Date = Date(),
        seq: Int64 = 0
    ) {
        self.apis = apis
        self.subscriptions = subscriptions
        self.applicationIDs = applicationIDs
        self.plans = plans
        self.applicationLimits = applicationLimits
        self.keys = keys
        self.revokedTokens = revokedTokens
        self.signingKeys = signingKeys
        self.connectionKeys = connectionKeys
        self.loadedAt = loadedAt
        self.seq = seq
    }

    /// Everything a gateway holds of one application: its plan's event limit, its keys and its subscriptions.
    package struct Application: Sendable, Equatable {
        package let id: String
        package var limit: BusinessPlan.EventLimit?
        package var keys: [Key] = []
        package var subscriptions: [Subscription] = []

        package init(id: String, limit: BusinessPlan.EventLimit?, keys: [Key] = [], subscriptions: [Subscription] = []) {
            self.id = id
            self.limit = limit
            self.keys = keys
            self.subscriptions = subscriptions
        }
    }

    /// One change as a gateway applies it: the changed entity as it is now, nil when it is gone
    /// (or, for an API, no longer served).
    package enum Update: Sendable, Equatable {
        /// An API and its connection keys.
        case api(id: String, API?, connectionKeys: [String: ConnectionKey])
        /// An application with its keys and subscriptions (a subscription's or a key's change too).
        case application(id: String, Application?)
        case plan(id: String, BusinessPlan?)
        case revokedToken(jti: String, expiresAt: Date)
        /// The signing keys tokens may be verified with, all of them.
        case signingKeys([SigningKey])
        case connectionKey(id: String, ConnectionKey?)
    }

    package mutating func add(_ api: API) { apis.append(api) }
    package mutating func add(_ subscription: Subscription) { subscriptions.append(subscription) }
    package mutating func add(_ plan: BusinessPlan) { plans[plan.id] = plan }
    package mutating func addApplication(_ id: String, limit: BusinessPlan.EventLimit?) {
        applicationIDs.insert(id)
        applicationLimits[id] = limit
    }
    package mutating func add(_ key: Key) { keys.append(key) }
    package mutating func addRevokedToken(_ jti: String, expiresAt: Date) { revokedTokens[jti] = expiresAt }
    package mutating func add(_ key: SigningKey) { signingKeys.append(key) }
    package mutating func addConnectionKey(_ id: String, _ key: ConnectionKey) { connectionKeys[id] = key }
    package mutating func finish(seq: Int64, loadedAt: Date) {
        self.seq = seq
        self.loadedAt = loadedAt
    }

    /// The catalog replayed into another sink, in the order a load streams it.
    package func replay<Sink: GatewayCatalogSink>(into sink: Sink) -> Sink {
        var sink = sink
        for api in apis { sink.add(api) }
        for plan in plans.values { sink.add(plan) }
        for id in applicationIDs { sink.addApplication(id, limit: applicationLimits[id]) }
        for subscription in subscriptions { sink.add(subscription) }
        for key in keys { sink.add(key) }
        for (jti, expires) in revokedTokens { sink.addRevokedToken(jti, expiresAt: expires) }
        for key in signingKeys { sink.add(key) }
        for (id, key) in connectionKeys { sink.addConnectionKey(id, key) }
        sink.finish(seq: seq, loadedAt: loadedAt)
        return sink
    }
}

/// Where a full load streams the catalog, row by row (a gateway builds its snapshot from the rows
/// without an intermediate copy): APIs, plans, applications, then their subscriptions and keys,
/// revoked tokens, signing keys, connection keys, and `finish`.
package protocol GatewayCatalogSink: Sendable {
    mutating func add(_ api: GatewayCatalog.API)
    mutating func add(_ subscription: GatewayCatalog.Subscription)
    mutating func add(_ plan: BusinessPlan)
    mutating func addApplication(_ id: String, limit: BusinessPlan.EventLimit?)
    mutating func add(_ key: GatewayCatalog.Key)
    mutating func addRevokedToken(_ jti: String, expiresAt: Date)
    mutating func add(_ key: GatewayCatalog.SigningKey)
    mutating func addConnectionKey(_ id: String, _ key: GatewayCatalog.ConnectionKey)
    mutating func finish(seq: Int64, loadedAt: Date)
}
