import Foundation

/// What a provider asks for when creating or changing an API, validated field by field. Every
/// problem is reported as the field it concerns and what is wrong with it.
package struct APISpec: Sendable, Equatable {
    package var name: String
    package var description: String
    package var context: String
    package var version: String
    package var isDefaultVersion: Bool
    package var visibility: WebSocketAPI.Visibility
    package var plans: [String]
    package var productionEndpoint: String?
    package var sandboxEndpoint: String?
    package var backendCAFile: String?
    /// Routes instead of endpoints: an API has one or the other.
    package var routes: APIRoutes?
    package var limits: APILimits
    package var resilience: EndpointResilience

    package init(
        name: String,
        description: String = "",
        context: String,
        version: String,
        isDefaultVersion: Bool = false,
        visibility: WebSocketAPI.Visibility = .public,
        plans: [String] = [],
        productionEndpoint: String? = nil,
        sandboxEndpoint: String? = nil,
        backendCAFile: String? = nil,
        routes: APIRoutes? = nil,
        limits: APILimits = .init(),
        resilience: EndpointResilience = .init()
    ) {
        self.name = name
        self.description = description
        self.context = context
        self.version = version
        self.isDefaultVersion = isDefaultVersion
        self.visibility = visibility
        self.plans = plans
        self.productionEndpoint = productionEndpoint
        self.sandboxEndpoint = sandboxEndpoint
        self.backendCAFile = backendCAFile
        self.routes = routes
        self.limits = limits
        self.resilience = resilience
    }

    /// The spec an existing API was made from.
    package init(of api: WebSocketAPI) {
        self.init(
            name: api.name,
            description: api.description,
            context: api.context,
            version: api.version,
            isDefaultVersion: api.isDefaultVersion,
            visibility: api.visibility,
            plans: api.plans,
            productionEndpoint: api.productionEndpoint,
            sandboxEndpoint: api.sandboxEndpoint,
            backendCAFile: api.backendCAFile,
            routes: api.routes,
            limits: api.limits,
            resilience: api.resilience
        )
    }

    package static let maxNameLength = 100
    package static let maxDescriptionLength = 10_000
    static let segmentCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    package static func validateName(_ name: String) throws {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw FieldError(field: "name", reason: "The name must not be empty") }
        guard trimmed == name else { throw FieldError(field: "name", reason: "The name must not start or end with spaces") }
        guard name.count <= maxNameLength else {
            throw FieldError(field: "name", reason: "The name is longer than \(maxNameLength) characters")
        }
        guard !name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            throw FieldError(field: "name", reason: "The name must not contain control characters")
        }
    }

    /// A context is a clean absolute path: `/` then segments of letters, digits and `-._~`, no empty,
    /// `.` or `..` segment, no trailing slash, at most 200 characters.
    package static func validateContext(_ context: String) throws {
        func fail(_ reason: String) -> FieldError {
            FieldError(field: "context", reason: "'\(context)' is not a clean path: \(reason)")
        }
        guard context.hasPrefix("/") else { throw fail("it must start with '/'") }
        guard context.count > 1 else { throw fail("it must name at least one segment") }
        guard context.count <= 200 else { throw fail("it is longer than 200 characters") }
        guard !context.hasSuffix("/") else { throw fail("it must not end with '/'") }
        for segment in context.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { throw fail("it must not contain '//'") }
            if segment == "." || segment == ".." { throw fail("it must not contain '.' or '..' segments") }
            if let bad = segment.first(where: { !segmentCharacters.contains($0) }) {
                throw fail("'\(bad)' is not allowed (use letters, digits, '-', '.', '_', '~')")
            }
        }
    }

    /// A version is one URL path segment: letters, digits and `-._~`, at most 30 characters.
    package static func validateVersion(_ version: String) throws {
        guard !version.isEmpty else { throw FieldError(field: "version", reason: "The version must not be empty") }
        guard version.count <= 30 else { throw FieldError(field: "version", reason: "The version is longer than 30 characters") }
        guard version != ".", version != "..", version.allSatisfy({ segmentCharacters.contains($0) }) else {
            throw FieldError(field: "version", reason: "'\(version)' must be one path segment of letters, digits, '-', '.', '_', '~'")
        }
    }

    /// An endpoint is a `ws://` or `wss://` URL with a host, and no fragment.
    package static func validateEndpoint(_ url: String, field: String) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw FieldError(field: field, reason: "'\(url)' is not a URL")
        }
        guard scheme == "ws" || scheme == "wss" else {
            throw FieldError(field: field, reason: "'\(url)' must use ws:// or wss://, not \(scheme)://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw FieldError(field: field, reason: "'\(url)' names no host")
        }
        guard components.fragment == nil else {
            throw FieldError(field: field, reason: "'\(url)' must not have a fragment")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw FieldError(field: field, reason: "'\(url)' has port \(port), outside 1-65535")
        }
    }

    /// Checks every field; throws the first problem found.
    package func validate() throws {
        try Self.validateName(name)
        guard description.count <= Self.maxDescriptionLength else {
            throw FieldError(field: "description", reason: "The description is longer than \(Self.maxDescriptionLength) characters")
        }
        try Self.validateContext(context)
        try Self.validateVersion(version)
        if let productionEndpoint {
            try Self.validateEndpoint(productionEndpoint, field: "endpointConfig.production_endpoints.url")
        }
        if let sandboxEndpoint {
            try Self.validateEndpoint(sandboxEndpoint, field: "endpointConfig.sandbox_endpoints.url")
        }
        if let backendCAFile {
            guard backendCAFile.hasPrefix("/"), !backendCAFile.contains("\0"), backendCAFile.count <= 1024 else {
                throw FieldError(
                    field: "endpointConfig.ca_file",
                    reason: "'\(backendCAFile)' must be an absolute path to a PEM file on the gateway hosts"
                )
            }
        }
        if let routes {
            guard productionEndpoint == nil, sandboxEndpoint == nil else {
                throw FieldError(
                    field: "routes",
                    reason: "An API has WebSocket endpoints or routes, not both: remove endpointConfig's endpoints or the routes"
                )
            }
            _ = try routes.validated()
        }
        try limits.validate()
        try resilience.validate()
        if let empty = plans.first(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw FieldError(field: "policies", reason: "'\(empty)' is not a plan name")
        }
    }
}
