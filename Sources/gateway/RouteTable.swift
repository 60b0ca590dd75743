import CryptoExtras
import Foundation
import PorticoCore

/// A snapshot of what the gateway serves: built by a full load (`Builder`), then kept current one
/// change at a time (`apply`) — each change makes a new table that shares every untouched entry
/// with the old one (`ShardedMap`). Every handshake decision reads one table.
struct RouteTable: Sendable {
    typealias API = GatewayCatalog.API

    /// A request path resolved to an API: which one, and the rest of the path for the backend.
    struct Match: Sendable, Equatable {
        let api: API
        let rest: String
    }

    private var byID = ShardedMap<String, API>()
    /// APIs by context, then version.
    private var versions = ShardedMap<String, [String: API]>()
    /// The default version of each context.
    private var defaults = ShardedMap<String, API>()
    /// Subscriptions by application and API.
    private var subscriptions = ShardedMap<SubscriptionKey, GatewayCatalog.Subscription>()
    private var plans: [String: BusinessPlan] = [:]
    /// Applications: their plan's event limit, and what else of theirs the table holds (to remove
    /// it all when the application changes).
    private(set) var applications = ShardedMap<String, Application>()
    private(set) var keys = ShardedMap<String, GatewayCatalog.Key>()
    private(set) var revokedTokens = ShardedMap<String, Date>()
    /// The published signing keys by kid, with a retired one's end of publication (checked at use:
    /// no reload is needed for a key to stop verifying).
    private var signingKeys: [String: (key: _RSA.Signing.PublicKey, until: Date?)] = [:]
    /// The signing keys as loaded (the parsed ones cannot be compared).
    private var signingKeyPEMs: [GatewayCatalog.SigningKey] = []
    /// The APIs' connection keys by id: who may call the connection management API.
    private(set) var connectionKeys: [String: GatewayCatalog.ConnectionKey] = [:]
    /// Every API's endpoint URLs, taken apart once.
    private var endpoints = ShardedMap<String, Result<Backend.Endpoint, Backend.Failure>>()
    /// When the catalog was last read: the start of the full load, or of the last change's read.
    private(set) var loadedAt = Date.distantPast
    /// The last change (`Change.seq`) the table includes.
    private(set) var seq: Int64 = 0

    /// A subscription's key: its application and API (two ids, not one string made of them).
    struct SubscriptionKey: Hashable, Sendable {
        let application: String
        let api: String
    }

    /// What the table holds of an application.
    struct Application: Sendable, Equatable {
        var limit: BusinessPlan.EventLimit?
        var consumerKeys: [String] = []
        /// The APIs it is subscribed to.
        var apiIDs: [String] = []
    }

    /// A table built from a loaded catalog.
    init(_ catalog: GatewayCatalog) {
        self = catalog.replay(into: Builder()).table
    }

    /// The table a full load streams its rows into.
    struct Builder: GatewayCatalogSink {
        var table = RouteTable()

        mutating func add(_ api: API) { table.insert(api) }
        mutating func add(_ subscription: GatewayCatalog.Subscription) { table.insert(subscription) }
        mutating func add(_ plan: BusinessPlan) { table.plans[plan.id] = plan }
        mutating func addApplication(_ id: String, limit: BusinessPlan.EventLimit?) {
            table.applications[id] = Application(limit: limit)
        }
        mutating func add(_ key: GatewayCatalog.Key) { table.insert(key) }
        mutating func addRevokedToken(_ jti: String, expiresAt: Date) { table.revokedTokens[jti] = expiresAt }
        mutating func add(_ key: GatewayCatalog.SigningKey) { table.signingKeyPEMs.append(key) }
        mutating func addConnectionKey(_ id: String, _ key: GatewayCatalog.ConnectionKey) { table.connectionKeys[id] = key }
        mutating func finish(seq: Int64, loadedAt: Date) {
            table.setSigningKeys(table.signingKeyPEMs)
            table.seq = seq
            table.loadedAt = loadedAt
        }
    }

    private init() {}

    // MARK: Changes

    /// The live connections a change concerns.
    enum Affected: Equatable {
        case none
        case api(String)
        case application(String)
        case token(String)
        /// Every connection (a plan's limits changed: its subscriptions are not indexed by plan).
        case all
    }

    /// Applies one change read at `readAt` (`GatewayCatalogStore.update(for:)`), touching only the
    /// entries it names; says which live connections it concerns.
    mutating func apply(_ update: GatewayCatalog.Update, seq: Int64, readAt: Date) -> Affected {
        self.seq = seq
        loadedAt = readAt
        switch update {
        case .api(let id, let api, let keys):
            removeAPI(id)
            if let api { insert(api) }
            for (keyID, key) in connectionKeys where key.apiID == id && keys[keyID] == nil { connectionKeys[keyID] = nil }
            connectionKeys.merge(keys) { _, new in new }
            return .api(id)
        case .application(let id, let application):
            removeApplication(id)
            if let application {
                applications[id] = Application(limit: application.limit)
                for subscription in application.subscriptions { insert(subscription) }
                for key in application.keys { insert(key) }
            }
            return .application(id)
        case .plan(let id, let plan):
            plans[id] = plan
            return .all
        case .revokedToken(let jti, let expiresAt):
            revokedTokens[jti] = expiresAt
            return .token(jti)
        case .signingKeys(let keys):
            setSigningKeys(keys)
            return .none
        case .connectionKey(let id, let key):
            connectionKeys[id] = key
            return .none
        }
    }

    private mutating func insert(_ api: API) {
        byID[api.id] = api
        versions[api.context, default: [:]][api.version] = api
        if api.isDefaultVersion { defaults[api.context] = api }
        for url in [api.productionEndpoint, api.sandboxEndpoint].compactMap({ $0 }) where endpoints[url] == nil {
            endpoints[url] = Backend.Endpoint.parse(url)
        }
    }

    private mutating func removeAPI(_ id: String) {
        guard let old = byID[id] else { return }
        byID[id] = nil
        if versions[old.context]?[old.version]?.id == id {
            versions[old.context]?[old.version] = nil
            if versions[old.context]?.isEmpty == true { versions[old.context] = nil }
        }
        if defaults[old.context]?.id == id { defaults[old.context] = nil }
    }

    private mutating func insert(_ subscription: GatewayCatalog.Subscription) {
        subscriptions[SubscriptionKey(application: subscription.applicationID, api: subscription.apiID)] = subscription
        applications[subscription.applicationID]?.apiIDs.append(subscription.apiID)
    }

    private mutating func insert(_ key: GatewayCatalog.Key) {
        keys[key.consumerKey] = key
        applications[key.applicationID]?.consumerKeys.append(key.consumerKey)
    }

    private mutating func removeApplication(_ id: String) {
        guard let old = applications[id] else { return }
        applications[id] = nil
        for api in old.apiIDs { subscriptions[SubscriptionKey(application: id, api: api)] = nil }
        for key in old.consumerKeys where keys[key]?.applicationID == id { keys[key] = nil }
    }

    private mutating func setSigningKeys(_ keys: [GatewayCatalog.SigningKey]) {
        signingKeyPEMs = keys
        signingKeys = Dictionary(
            keys.compactMap { key in
                (try? _RSA.Signing.PublicKey(pemRepresentation: key.publicKeyPEM)).map { (key.kid, ($0, key.publishedUntil)) }
            },
            uniquingKeysWith: { a, _ in a }
        )
    }

    /// The signing key `kid` if it is published at `now`.
    func signingKey(_ kid: String, at now: Date) -> _RSA.Signing.PublicKey? {
        guard let entry = signingKeys[kid], entry.until.map({ now < $0 }) ?? true else { return nil }
        return entry.key
    }

    /// Whether two tables serve the same catalog (a table kept by changes against a full load;
    /// the endpoint cache, `seq` and `loadedAt` aside).
    func holdsTheSameCatalog(as other: RouteTable) -> Bool {
        func sorted(_ applications: ShardedMap<String, Application>) -> [String: Application] {
            applications.dictionary.mapValues { Application(limit: $0.limit, consumerKeys: $0.consumerKeys.sorted(), apiIDs: $0.apiIDs.sorted()) }
        }
        return byID == other.byID && versions == other.versions && defaults == other.defaults && subscriptions == other.subscriptions
            && plans == other.plans && sorted(applications) == sorted(other.applications) && keys == other.keys
            && revokedTokens == other.revokedTokens
            && signingKeyPEMs.sorted(by: { $0.kid < $1.kid }) == other.signingKeyPEMs.sorted(by: { $0.kid < $1.kid })
            && connectionKeys == other.connectionKeys
    }

    /// The endpoint `url` (one of this snapshot's APIs'), taken apart.
    func endpoint(_ url: String) -> Result<Backend.Endpoint, Backend.Failure> {
        endpoints[url] ?? Backend.Endpoint.parse(url)
    }

    /// `/{context}/{version}[/rest]` names that version; `/{context}[/rest]` the default version.
    /// Contexts never nest (the publisher refuses it), so the longest matching prefix is the only one.
    func match(path: String) -> Match? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        guard !segments.isEmpty else { return nil }
        for length in stride(from: segments.count, through: 1, by: -1) {
            let context = "/" + segments[0..<length].joined(separator: "/")
            guard let byVersion = versions[context] else { continue }
            if length < segments.count, let api = byVersion[segments[length]] {
                return Match(api: api, rest: Self.join(segments[(length + 1)...]))
            }
            if let api = defaults[context] {
                return Match(api: api, rest: Self.join(segments[length...]))
            }
            return nil
        }
        return nil
    }

    private static func join(_ rest: ArraySlice<String>) -> String {
        rest.isEmpty ? "" : "/" + rest.joined(separator: "/")
    }

    func api(id: String) -> API? { byID[id] }

    func subscription(application: String, api: String) -> GatewayCatalog.Subscription? {
        subscriptions[SubscriptionKey(application: application, api: api)]
    }

    func plan(id: String) -> BusinessPlan? { plans[id] }

    /// The event limit of the application's plan (nil: none).
    func applicationLimit(_ applicationID: String) -> BusinessPlan.EventLimit? { applications[applicationID]?.limit }
}
