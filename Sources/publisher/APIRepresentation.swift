import Foundation
import Hummingbird
import PorticoCore

/// The `endpointConfig` object of WSO2's publisher API, as far as WebSocket APIs use it.
struct EndpointConfig: Codable, Sendable {
    struct Endpoint: Codable, Sendable { var url: String? }

    var endpoint_type: String?
    var production_endpoints: Endpoint?
    var sandbox_endpoints: Endpoint?
    /// A PEM file on the gateway hosts with the CAs that wss:// backends' certificates must chain to.
    var ca_file: String?
    /// Connect timeout and suspension, under WSO2's names.
    var config: EndpointSettings?
}

/// `endpointConfig.config`: WSO2's endpoint settings. Absent fields take the gateway's defaults.
struct EndpointSettings: Codable, Sendable {
    /// Connect plus backend handshake timeout, ms.
    var actionDuration: Int?
    /// Connect failures retried before the endpoint is suspended (suspended at retryTimeOut + 1 in a row).
    var retryTimeOut: Int?
    /// First suspension, ms; 0 with suspendMaxDuration 0: never suspend.
    var suspendDuration: Int64?
    /// Longest suspension, ms.
    var suspendMaxDuration: Int64?
    /// Progression factor of consecutive suspensions.
    var factor: Double?

    init(_ resilience: EndpointResilience) {
        actionDuration = resilience.connectTimeoutMs
        retryTimeOut = resilience.suspendAfterFailures.map { $0 - 1 }
        suspendDuration = resilience.suspendInitialMs
        suspendMaxDuration = resilience.suspendMaxMs
        factor = resilience.suspendFactor
    }

    func resilience() throws -> EndpointResilience {
        if let retryTimeOut, retryTimeOut < 0 {
            throw APIError.invalidField("endpointConfig.config.retryTimeOut", "Expected 0 or more retries before suspension")
        }
        return EndpointResilience(
            connectTimeoutMs: actionDuration,
            suspendAfterFailures: retryTimeOut.map { $0 + 1 },
            suspendInitialMs: suspendDuration,
            suspendMaxMs: suspendMaxDuration,
            suspendFactor: factor
        )
    }
}

/// `limits`: what the gateway enforces for the API beyond its subscribers' plans. Absent fields
/// take the gateway's defaults.
struct LimitsBody: Codable, Sendable {
    /// Events per time unit for all subscribers together.
    var eventCeiling: EventCount?
    var maxMessageBytes: Int?
    var idleTimeoutSeconds: Int?
    var maxLifetimeSeconds: Int?
    var allowedOrigins: [String]?

    init(_ limits: APILimits) {
        eventCeiling = limits.eventCeiling.map(EventCount.init)
        maxMessageBytes = limits.maxMessageBytes
        idleTimeoutSeconds = limits.idleTimeoutSeconds
        maxLifetimeSeconds = limits.maxLifetimeSeconds
        allowedOrigins = limits.allowedOrigins
    }

    func limits() throws -> APILimits {
        APILimits(
            eventCeiling: try eventCeiling?.limit(field: "limits.eventCeiling"),
            maxMessageBytes: maxMessageBytes,
            idleTimeoutSeconds: idleTimeoutSeconds,
            maxLifetimeSeconds: maxLifetimeSeconds,
            allowedOrigins: allowedOrigins ?? []
        )
    }
}

/// The API as the REST API shows it (WSO2 publisher v4 `API` shape, the fields Portico keeps).
struct APIRepresentation: ResponseEncodable, Sendable {
    let id: String
    let name: String
    let description: String
    let context: String
    let version: String
    let provider: String
    let type = "WS"
    let lifeCycleStatus: String
    let isDefaultVersion: Bool
    let visibility: String
    let policies: [String]
    let endpointConfig: EndpointConfig
    let limits: LimitsBody
    /// Present for an API whose messages go to integrations (`docs/routes.md`).
    let routeSelectionExpression: String?
    let routes: [APIRoutes.Route]?
    let createdTime: Date
    let lastUpdatedTime: Date

    init(_ api: WebSocketAPI) {
        id = api.id
        name = api.name
        description = api.description
        context = api.context
        version = api.version
        provider = api.provider
        lifeCycleStatus = api.lifecycleState.rawValue
        isDefaultVersion = api.isDefaultVersion
        visibility = api.visibility.rawValue
        policies = api.plans
        endpointConfig = EndpointConfig(
            endpoint_type: "ws",
            production_endpoints: api.productionEndpoint.map { .init(url: $0) },
            sandbox_endpoints: api.sandboxEndpoint.map { .init(url: $0) },
            ca_file: api.backendCAFile,
            config: EndpointSettings(api.resilience)
        )
        limits = LimitsBody(api.limits)
        routeSelectionExpression = api.routes?.routeSelectionExpression
        routes = api.routes?.routes
        createdTime = api.createdAt
        lastUpdatedTime = api.updatedAt
    }
}

/// A create or update request. Every field is optional here so that a missing one is reported by
/// name; `POST` requires name, context and version, `PUT` leaves out what it does not change.
struct APIRequestBody: Decodable, Sendable {
    var name: String?
    var description: String?
    var context: String?
    var version: String?
    var type: String?
    var policies: [String]?
    var endpointConfig: EndpointConfig?
    var limits: LimitsBody?
    var isDefaultVersion: Bool?
    var visibility: String?
    var routeSelectionExpression: String?
    /// Routes instead of endpoints; on a change, `[]` removes them.
    var routes: [APIRoutes.Route]?

    /// The route table this body gives, nil when it gives none (or `[]`).
    var routeTable: APIRoutes? {
        guard let routes, !routes.isEmpty else { return nil }
        return APIRoutes(routeSelectionExpression: routeSelectionExpression, routes: routes)
    }

    func checkType() throws {
        if let type, type.uppercased() != "WS" {
            throw APIError.invalidField("type", "Only WebSocket APIs are supported: type must be \"WS\", not \"\(type)\"")
        }
        if let endpointType = endpointConfig?.endpoint_type, endpointType.lowercased() != "ws" {
            throw APIError.invalidField(
                "endpointConfig.endpoint_type",
                "WebSocket APIs use endpoint_type \"ws\", not \"\(endpointType)\""
            )
        }
    }

    func parsedVisibility() throws -> WebSocketAPI.Visibility? {
        guard let visibility else { return nil }
        guard let parsed = WebSocketAPI.Visibility(rawValue: visibility.uppercased()) else {
            let allowed = WebSocketAPI.Visibility.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError.invalidField("visibility", "'\(visibility)' is not one of \(allowed)")
        }
        return parsed
    }

    /// The spec for a new API.
    func newSpec() throws -> APISpec {
        try checkType()
        guard let name else { throw APIError.invalidField("name", "The field is required") }
        guard let context else { throw APIError.invalidField("context", "The field is required") }
        guard let version else { throw APIError.invalidField("version", "The field is required") }
        let spec = APISpec(
            name: name,
            description: description ?? "",
            context: context,
            version: version,
            isDefaultVersion: isDefaultVersion ?? false,
            visibility: try parsedVisibility() ?? .public,
            plans: policies ?? [],
            productionEndpoint: endpointConfig?.production_endpoints?.url,
            sandboxEndpoint: endpointConfig?.sandbox_endpoints?.url,
            backendCAFile: endpointConfig?.ca_file,
            routes: routeTable,
            limits: try limits?.limits() ?? .init(),
            resilience: try endpointConfig?.config?.resilience() ?? .init()
        )
        try spec.validate()
        return spec
    }

    /// Applies this body to an existing API's spec. Name, context and version cannot change.
    func apply(to spec: inout APISpec) throws {
        try checkType()
        for (field, given, current) in [("name", name, spec.name), ("context", context, spec.context), ("version", version, spec.version)] {
            if let given, given != current {
                throw APIError.invalidField(field, "The \(field) of an API cannot change (it is '\(current)'); copy the API to make a new version")
            }
        }
        if let description { spec.description = description }
        if let isDefaultVersion { spec.isDefaultVersion = isDefaultVersion }
        if let visibility = try parsedVisibility() { spec.visibility = visibility }
        if let policies { spec.plans = policies }
        if let endpointConfig {
            spec.productionEndpoint = endpointConfig.production_endpoints?.url
            spec.sandboxEndpoint = endpointConfig.sandbox_endpoints?.url
            spec.backendCAFile = endpointConfig.ca_file
            spec.resilience = try endpointConfig.config?.resilience() ?? .init()
        }
        if let limits { spec.limits = try limits.limits() }
        if routes != nil {
            spec.routes = routeTable
        } else if let routeSelectionExpression, var table = spec.routes {
            table.routeSelectionExpression = routeSelectionExpression
            spec.routes = table
        }
        try spec.validate()
    }
}
