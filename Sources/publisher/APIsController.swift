import Foundation
import Hummingbird
import PorticoCore

/// `/apis`: create, list, read, change, delete and copy WebSocket APIs.
struct APIsController {
    let apis: APIStore

    static let basePath = "/api/am/publisher/v4/apis"

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get(use: list)
            .post(use: create)
            .post("copy-api", use: copy)
            .post("import-openapi", use: importOpenAPI)
            .get("{apiId}", use: get)
            .put("{apiId}", use: update)
            .delete("{apiId}", use: delete)
    }

    static func created(_ api: WebSocketAPI) throws -> EditedResponse<APIRepresentation> {
        EditedResponse(
            status: .created,
            headers: [
                .location: "\(basePath)/\(api.id)", .eTag: api.eTag,
            ],
            response: APIRepresentation(api)
        )
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Page<APIRepresentation> {
        _ = try context.requireAny([.creator, .publisher], to: "list APIs")
        let query = request.queryParameters
        let page = try PageRequest(query: query)
        // WSO2 clients send `query=name:Foo`; a bare word searches names too.
        var search = query["query"]
        if let value = search, value.lowercased().hasPrefix("name:") { search = String(value.dropFirst(5)) }
        let (found, total) = try await apis.list(page: page, nameContains: search)
        let extra = query["query"].flatMap { $0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) }.map { "query=\($0)" } ?? ""
        return Page(list: found.map(APIRepresentation.init), total: total, page: page, path: Self.basePath, extraQuery: extra)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> EditedResponse<APIRepresentation> {
        let user = try context.require(.creator, to: "create APIs")
        let body = try await request.decodeJSON(APIRequestBody.self, context: context)
        return try Self.created(try await apis.create(try body.newSpec(), provider: user.username))
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> EditedResponse<APIRepresentation> {
        _ = try context.requireAny([.creator, .publisher], to: "read APIs")
        let api = try await Self.find(context.parameters.require("apiId"), in: apis)
        return EditedResponse(headers: [.eTag: api.eTag], response: APIRepresentation(api))
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> EditedResponse<APIRepresentation> {
        _ = try context.require(.creator, to: "change APIs")
        let id = try context.parameters.require("apiId")
        _ = try await Self.find(id, in: apis)
        let body = try await request.decodeJSON(APIRequestBody.self, context: context)
        let api = try await apis.update(id: id, ifMatch: request.headers[.ifMatch]) { try body.apply(to: &$0) }
        return EditedResponse(headers: [.eTag: api.eTag], response: APIRepresentation(api))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        _ = try context.require(.creator, to: "delete APIs")
        try await apis.delete(id: try context.parameters.require("apiId"), ifMatch: request.headers[.ifMatch])
        return .noContent
    }

    /// `import-openapi?context=&version=[&policies=Gold,Silver]` with a Yandex API Gateway
    /// specification (YAML or JSON) as the body: a new API in CREATED with its routes (`OpenAPIImport`).
    @Sendable func importOpenAPI(_ request: Request, context: Context) async throws -> EditedResponse<APIRepresentation> {
        let user = try context.require(.creator, to: "create APIs")
        let query = request.queryParameters
        guard let apiContext = query["context"] else { throw APIError.invalidParameter("context", "The parameter is required") }
        guard let version = query["version"] else { throw APIError.invalidParameter("version", "The parameter is required") }
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        guard ["application/yaml", "application/x-yaml", "text/yaml", "application/json", "text/plain"].contains(type) else {
            throw APIError(.unsupportedMediaType, "Unsupported Media Type", "Send the specification as application/yaml or application/json")
        }
        let body = try await request.collectBody(
            atMost: context.maxUploadSize,
            tooLarge: APIError(.contentTooLarge, "Content Too Large", "The specification is larger than \(context.maxUploadSize) bytes")
        )
        guard let text = String(validating: body.readableBytesView, as: UTF8.self) else {
            throw APIError.badRequest("The specification is not UTF-8 text")
        }
        let imported = try OpenAPIImport.parse(text)
        let plans = query["policies"].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        let spec = APISpec(
            name: imported.name,
            description: imported.description,
            context: String(apiContext),
            version: String(version),
            plans: plans,
            routes: imported.routes
        )
        try spec.validate()
        return try Self.created(try await apis.create(spec, provider: user.username))
    }

    /// `copy-api?apiId=&newVersion=&defaultVersion=`: a new version in CREATED with the same design.
    @Sendable func copy(_ request: Request, context: Context) async throws -> EditedResponse<APIRepresentation> {
        let user = try context.require(.creator, to: "create API versions")
        let query = request.queryParameters
        guard let id = query["apiId"] else { throw APIError.invalidParameter("apiId", "The parameter is required") }
        guard let newVersion = query["newVersion"] else { throw APIError.invalidParameter("newVersion", "The parameter is required") }
        var makeDefault = false
        if let raw = query["defaultVersion"] {
            guard let value = Bool(raw.lowercased()) else {
                throw APIError.invalidParameter("defaultVersion", "Expected true or false, got '\(raw)'")
            }
            makeDefault = value
        }
        let source = try await Self.find(id, in: apis)
        var spec = APISpec(of: source)
        spec.version = newVersion
        spec.isDefaultVersion = makeDefault
        do {
            try APISpec.validateVersion(spec.version)
        } catch let error as FieldError {
            throw APIError.invalidParameter("newVersion", error.reason)
        }
        return try Self.created(try await apis.create(spec, provider: user.username))
    }

    static func find(_ id: String, in apis: APIStore) async throws -> WebSocketAPI {
        guard let api = try await apis.get(id: id) else { throw APIError.notFound("No API with id '\(id)'") }
        return api
    }
}
