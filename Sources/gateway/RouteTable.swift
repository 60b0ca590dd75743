import CryptoExtras
import Foundation
import PorticoCore

/// An immutable snapshot of what the gateway serves, built from a `GatewayCatalog` and swapped
/// whole when PostgreSQL announces a change. Every handshake decision reads one snapshot.
struct RouteTable: Sendable {
    typealias API = GatewayCatalog.API

    /// A request path resolved to an API: which one, and the rest of the path for the backend.
    struct Match: Sendable, Equatable {
        let api: API
        let rest: String
    }

    private let byID: [String: API]
    private let versions: [String: [String: API]]
    private let defaults: [String: API]
    private let subscriptions: [String: GatewayCatalog.Subscription]
    private let plans: [String: BusinessPlan]
    private let applicationLimits: [String: BusinessPlan.EventLimit]
    let applications: Set<String>
    let keys: [String: GatewayCatalog.Key]
    let revokedTokens: [String: Date]
    let signingKeys: [String: _RSA.Signing.PublicKey]
    /// The APIs' connection keys by id: who may call the connection management API.
    let connectionKeys: [String: GatewayCatalog.ConnectionKey]
    /// Every API's endpoint URLs, taken apart once per snapshot.
    private let endpoints: [String: Result<Backend.Endpoint, Backend.Failure>]
    let loadedAt: Date

    init(_ catalog: GatewayCatalog) {
        var versions: [String: [String: API]] = [:]
        var defaults: [String: API] = [:]
        for api in catalog.apis {
            versions[api.context, default: [:]][api.version] = api
            if api.isDefaultVersion { defaults[api.context] = api }
        }
        self.versions = versions
        self.defaults = defaults
        byID = Dictionary(catalog.apis.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        subscriptions = Dictionary(catalog.subscriptions.map { ("\($0.applicationID)|\($0.apiID)", $0) }, uniquingKeysWith: { a, _ in a })
        plans = catalog.plans
        applicationLimits = catalog.applicationLimits
        applications = catalog.applicationIDs
        keys = Dictionary(catalog.keys.map { ($0.consumerKey, $0) }, uniquingKeysWith: { a, _ in a })
        revokedTokens = catalog.revokedTokens
        connectionKeys = catalog.connectionKeys
        signingKeys = Dictionary(
            catalog.signingKeys.compactMap { key in
                (try? _RSA.Signing.PublicKey(pemRepresentation: key.publicKeyPEM)).map { (key.kid, $0) }
            },
            uniquingKeysWith: { a, _ in a }
        )
        endpoints = Dictionary(
            catalog.apis.flatMap { [$0.productionEndpoint, $0.sandboxEndpoint] }.compactMap { $0 }
                .map { ($0, Backend.Endpoint.parse($0)) },
            uniquingKeysWith: { a, _ in a }
        )
        loadedAt = catalog.loadedAt
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
        subscriptions["\(application)|\(api)"]
    }

    func plan(id: String) -> BusinessPlan? { plans[id] }

    /// The event limit of the application's plan (nil: none).
    func applicationLimit(_ applicationID: String) -> BusinessPlan.EventLimit? { applicationLimits[applicationID] }
}
