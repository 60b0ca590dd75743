import Foundation
import PorticoCore

/// The `endpointConfig` object of WSO2's publisher API, as far as WebSocket APIs use it.
struct EndpointConfig: Codable, Sendable {
    struct Endpoint: Codable, Sendable { var url: String? }

    var endpoint_type: String?
    var production_endpoints: Endpoint?
    var sandbox_endpoints: Endpoint?
    /// A PEM file on the gateway hosts with the CAs that wss:// backends' certificates must chain to.
    var ca_file: String?
}

/// The API as the REST API shows it (WSO2 publisher v4 `API` shape, the fields Portico keeps).
struct APIRepresentation: Encodable, Sendable {
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
            ca_file: api.backendCAFile)
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
    var isDefaultVersion: Bool?
    var visibility: String?

    func checkType() throws {
        if let type, type.uppercased() != "WS" {
            throw APIError.invalidField("type", "Only WebSocket APIs are supported: type must be \"WS\", not \"\(type)\"")
        }
        if let endpointType = endpointConfig?.endpoint_type, endpointType.lowercased() != "ws" {
            throw APIError.invalidField(
                "endpointConfig.endpoint_type", "WebSocket APIs use endpoint_type \"ws\", not \"\(endpointType)\"")
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
            name: name, description: description ?? "", context: context, version: version,
            isDefaultVersion: isDefaultVersion ?? false, visibility: try parsedVisibility() ?? .public,
            plans: policies ?? [], productionEndpoint: endpointConfig?.production_endpoints?.url,
            sandboxEndpoint: endpointConfig?.sandbox_endpoints?.url, backendCAFile: endpointConfig?.ca_file)
        try Self.validated(spec)
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
        }
        try Self.validated(spec)
    }

    static func validated(_ spec: APISpec) throws {
        do {
            try spec.validate()
        } catch let error as APISpec.FieldError {
            throw APIError.invalidField(error.field, error.reason)
        }
    }
}
