import Foundation
import PorticoCore
import Yams

/// `POST /apis/import-openapi`: a Yandex API Gateway specification (OpenAPI 3 with
/// `x-yc-apigateway-websocket-message|connect|disconnect` operations) becomes a Portico API with
/// routes: `message` → `$default` (two-way: the integration's answer goes to the client),
/// `connect` → `$connect`, `disconnect` → `$disconnect`; a `dummy` integration → MOCK, an `http`
/// one → HTTP. The spec's one WebSocket path is the API (its URL is the context and version the
/// request gives). Whatever else the spec asks for that Portico would not do — other extensions,
/// other integration types, HTTP operations — is a 400 that names it, never silently dropped.
enum OpenAPIImport {
    struct Imported {
        let name: String
        let description: String
        let routes: APIRoutes
    }

    static let operations: [(extension: String, routeKey: String, twoWay: Bool)] = [
        ("x-yc-apigateway-websocket-connect", APIRoutes.connect, false),
        ("x-yc-apigateway-websocket-message", APIRoutes.fallback, true),
        ("x-yc-apigateway-websocket-disconnect", APIRoutes.disconnect, false),
    ]
    /// What an operation may hold besides its integration: OpenAPI's own fields.
    static let operationFields: Set<String> = [
        "summary", "description", "operationId", "parameters", "responses", "tags", "requestBody", "deprecated",
        "x-yc-apigateway-integration",
    ]

    static func parse(_ text: String) throws -> Imported {
        // YAML anchors and aliases can make a small document expand without bound: not taken.
        if text.range(of: #"(?m)(:[ \t]+|-[ \t]+|[\[,][ \t]*)[&*][A-Za-z0-9_-]+([ \t]|$|[,\]}])"#, options: .regularExpression) != nil {
            throw APIError.badRequest("The specification uses YAML anchors or aliases (&name, *name): write the values out")
        }
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw APIError.badRequest("The specification is neither YAML nor JSON: \(String(describing: error).prefix(200))")
        }
        guard let spec = loaded as? [String: Any] else { throw APIError.badRequest("The specification is not an object") }
        guard let version = spec["openapi"].map({ "\($0)" }), version.hasPrefix("3.") else {
            throw APIError.invalidField("openapi", "Expected an OpenAPI 3 document (openapi: 3.x)")
        }
        for key in spec.keys where key.hasPrefix("x-") {
            throw APIError.invalidField(key, "Portico does not support the extension '\(key)'")
        }
        if spec["security"] != nil {
            throw APIError.invalidField("security", "Portico does not import authorizers: clients present Portico's access tokens")
        }
        if let components = spec["components"] as? [String: Any], components["securitySchemes"] != nil {
            throw APIError.invalidField("components.securitySchemes", "Portico does not import authorizers: clients present Portico's access tokens")
        }
        let info = spec["info"] as? [String: Any] ?? [:]
        guard let title = info["title"] as? String else { throw APIError.invalidField("info.title", "The field is required: it names the API") }
        guard let paths = spec["paths"] as? [String: Any], !paths.isEmpty else {
            throw APIError.invalidField("paths", "The specification has no paths")
        }
        var webSocketPath: String?
        var routes: [APIRoutes.Route] = []
        for (path, value) in paths.sorted(by: { $0.key < $1.key }) {
            let item = value as? [String: Any] ?? [:]
            for key in item.keys.sorted() {
                let field = "paths.\(path).\(key)"
                guard let operation = operations.first(where: { $0.extension == key }) else {
                    if ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(key) {
                        throw APIError.invalidField(field, "Portico imports WebSocket operations (x-yc-apigateway-websocket-*) only, not HTTP ones")
                    }
                    if key.hasPrefix("x-") { throw APIError.invalidField(field, "Portico does not support the extension '\(key)'") }
                    continue  // summary, description, parameters of the path
                }
                if let other = webSocketPath, other != path {
                    throw APIError.invalidField(field, "One WebSocket path per API: '\(other)' has WebSocket operations already")
                }
                webSocketPath = path
                let body = item[key] as? [String: Any] ?? [:]
                for name in body.keys.sorted() where !operationFields.contains(name) {
                    throw APIError.invalidField("\(field).\(name)", "Portico does not support '\(name)' in a WebSocket operation")
                }
                guard let integration = body["x-yc-apigateway-integration"] as? [String: Any] else {
                    throw APIError.invalidField("\(field).x-yc-apigateway-integration", "The field is required")
                }
                routes.append(
                    APIRoutes.Route(
                        routeKey: operation.routeKey,
                        twoWay: operation.twoWay,
                        integration: try Self.integration(integration, field: "\(field).x-yc-apigateway-integration")
                    )
                )
            }
        }
        guard !routes.isEmpty else {
            throw APIError.invalidField("paths", "No x-yc-apigateway-websocket-message, -connect or -disconnect operation")
        }
        let table = APIRoutes(routeSelectionExpression: nil, routes: routes)
        return Imported(name: title, description: info["description"] as? String ?? "", routes: table)
    }

    static func integration(_ spec: [String: Any], field: String) throws -> APIRoutes.Integration {
        let type = spec["type"] as? String ?? ""
        switch type {
        case "dummy":
            try allow(spec, ["type", "http_code", "http_headers", "content"], field: field)
            var headers: [String: String] = [:]
            for (name, value) in spec["http_headers"] as? [String: Any] ?? [:] { headers[name] = "\(value)" }
            let content = spec["content"] as? [String: Any] ?? [:]
            // One body: the first media type's (Yandex answers with it whatever the client asks).
            let body = content.sorted { $0.key < $1.key }.first.map { "\($0.value)" } ?? ""
            if headers.keys.allSatisfy({ $0.lowercased() != "content-type" }), let type = content.keys.sorted().first {
                headers["Content-Type"] = type
            }
            return APIRoutes.Integration(type: .mock, status: spec["http_code"] as? Int ?? 200, headers: headers, body: body)
        case "http":
            try allow(spec, ["type", "url", "method", "headers", "query", "timeouts"], field: field)
            var parameters: [String: String] = [:]
            for (name, value) in spec["headers"] as? [String: Any] ?? [:] { parameters["integration.request.header.\(name)"] = "'\(value)'" }
            for (name, value) in spec["query"] as? [String: Any] ?? [:] { parameters["integration.request.querystring.\(name)"] = "'\(value)'" }
            var timeout: Int?
            if let timeouts = spec["timeouts"] as? [String: Any] {
                let seconds = Self.seconds(timeouts["read"]) + Self.seconds(timeouts["connect"])
                if seconds.isFinite, seconds > 0 {
                    timeout = Int(min(Double(APIRoutes.maxTimeoutMillis), max(Double(APIRoutes.minTimeoutMillis), seconds * 1000)))
                }
            }
            return APIRoutes.Integration(
                type: .http,
                method: (spec["method"] as? String)?.uppercased() ?? "POST",
                url: spec["url"] as? String,
                timeoutMillis: timeout,
                requestParameters: parameters.isEmpty ? nil : parameters
            )
        default:
            throw APIError.invalidField("\(field).type", "Portico imports 'dummy' and 'http' integrations, not '\(type.prefix(50))'")
        }
    }

    /// A number of seconds as YAML gives it (an integer or a decimal), 0 when absent.
    static func seconds(_ value: Any?) -> Double {
        if let value = value as? Double { return value }
        if let value = value as? Int { return Double(value) }
        return 0
    }

    static func allow(_ spec: [String: Any], _ fields: Set<String>, field: String) throws {
        if let unknown = spec.keys.sorted().first(where: { !fields.contains($0) }) {
            throw APIError.invalidField("\(field).\(unknown)", "Portico does not support '\(unknown)' in this integration")
        }
    }
}
