import Foundation
import Hummingbird
import PorticoCore

/// `/apis`: the catalog of published WebSocket APIs, their invocation URLs and AsyncAPI documents.
/// Anonymous visitors see PUBLIC APIs; signed-in users see PRIVATE ones too, and DEPRECATED ones
/// their applications subscribe to.
struct CatalogController {
    let apis: APIStore
    let settings: DevportalSettings

    init(database: Database, settings: DevportalSettings) {
        self.apis = APIStore(database: database)
        self.settings = settings
    }

    static let basePath = "/api/am/devportal/v3/apis"

    /// WSO2 devportal v3 `APIInfo`.
    struct Summary: Encodable {
        let id, name, description, context, version, provider, lifeCycleStatus: String
        let type = "WS"
        let throttlingPolicies: [String]
        let isDefaultVersion: Bool

        init(_ api: WebSocketAPI) {
            id = api.id
            name = api.name
            description = api.description
            context = api.context
            version = api.version
            provider = api.provider
            lifeCycleStatus = api.lifecycleState.rawValue
            throttlingPolicies = api.plans
            isDefaultVersion = api.isDefaultVersion
        }
    }

    struct URLs: Encodable {
        let ws: String?
        let wss: String?
    }
    struct EndpointURL: Encodable {
        let environmentName = "Production and Sandbox"
        let environmentType = "hybrid"
        let URLs: URLs
        let defaultVersionURLs: URLs
    }
    /// A plan the API offers, with its limits (nil where the plan sets none).
    struct Tier: Encodable {
        let tierName: String
        let tierPlan = "FREE"
        let description: String?
        let eventCount: Int64?
        let timeUnit: String?
        let unitTime: Int?
        /// Live connections per subscription (0: no cap).
        let subscriberCount: Int?
        let maxMessageBytes: Int?

        init(name: String, plan: BusinessPlan?) {
            tierName = name
            description = plan?.description
            eventCount = plan?.eventLimit?.eventCount
            timeUnit = plan?.eventLimit?.timeUnit.rawValue
            unitTime = plan?.eventLimit?.unitTime
            subscriberCount = plan?.maxConnections
            maxMessageBytes = plan?.maxMessageBytes
        }
    }

    /// WSO2 devportal v3 `API`, the fields a WebSocket API has.
    struct Detail: ResponseEncodable {
        let id, name, description, context, version, provider, lifeCycleStatus: String
        let type = "WS"
        let isDefaultVersion: Bool
        let tiers: [Tier]
        let endpointURLs: [EndpointURL]
        let createdTime: Date
        let lastUpdatedTime: Date
    }

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get(use: list)
            .get("{apiId}", use: get)
            .get("{apiId}/asyncapi", use: asyncAPI)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Page<Summary> {
        let query = request.queryParameters
        let page = try PageRequest(query: query)
        var search = query["query"]
        if let value = search, value.lowercased().hasPrefix("name:") { search = String(value.dropFirst(5)) }
        let (found, total) = try await apis.catalog(page: page, nameContains: search, viewer: context.user)
        return Page(list: found.map(Summary.init), total: total, page: page, path: Self.basePath)
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> Detail {
        let api = try await find(context)
        let plans = try await BusinessPlanStore(database: apis.database).list()
        return detail(api, plans: plans)
    }

    @Sendable func asyncAPI(_ request: Request, context: Context) async throws -> AsyncAPIDocument {
        let api = try await find(context)
        return AsyncAPIDocument(api: api, urls: urls(for: api))
    }

    func find(_ context: Context) async throws -> WebSocketAPI {
        let id = try context.parameters.require("apiId")
        guard let api = try await apis.catalogEntry(id: id, viewer: context.user) else {
            throw APIError.notFound("No published API with id '\(id)'")
        }
        return api
    }

    /// The gateway URLs of an API: its versioned path, and the bare context for the default version.
    func urls(for api: WebSocketAPI) -> (versioned: URLs, defaultVersion: URLs) {
        let gateway = settings.core.gateway
        let versioned = gateway.urls(path: "\(api.context)/\(api.version)")
        let bare = gateway.urls(path: api.context)
        let defaultVersion = api.isDefaultVersion ? URLs(ws: bare.ws, wss: bare.wss) : URLs(ws: nil, wss: nil)
        let versionedURLs = URLs(ws: versioned.ws, wss: versioned.wss)
        return (versionedURLs, defaultVersion)
    }

    func detail(_ api: WebSocketAPI, plans: [BusinessPlan]) -> Detail {
        let (versioned, defaultVersion) = urls(for: api)
        return Detail(
            id: api.id,
            name: api.name,
            description: api.description,
            context: api.context,
            version: api.version,
            provider: api.provider,
            lifeCycleStatus: api.lifecycleState.rawValue,
            isDefaultVersion: api.isDefaultVersion,
            tiers: api.plans.map { name in Tier(name: name, plan: plans.first { $0.name == name }) },
            endpointURLs: [EndpointURL(URLs: versioned, defaultVersionURLs: defaultVersion)],
            createdTime: api.createdAt,
            lastUpdatedTime: api.updatedAt
        )
    }
}

/// An AsyncAPI 2.6 document for one WebSocket API: its channel, the gateway's ws and wss servers,
/// and how to present a token (bearer header or `access_token` query parameter).
struct AsyncAPIDocument: ResponseEncodable {
    /// An API with routes: one message per route the client can select, and the answers of the
    /// two-way ones (plus what the API's backend pushes by connection id).
    static func routedChannel(_ api: WebSocketAPI, _ routes: APIRoutes) -> Channel {
        let selection = routes.routeSelectionExpression.map { "chosen by \($0)" } ?? "all to $default"
        let messageRoutes = routes.routes.filter { $0.routeKey != APIRoutes.connect && $0.routeKey != APIRoutes.disconnect }
        let sent = messageRoutes.map { route in
            Message(
                name: route.routeKey,
                summary: route.routeKey == APIRoutes.fallback
                    ? "Any message no other route takes" : "A message whose key is '\(route.routeKey)'"
            )
        }
        let answers = messageRoutes.filter(\.twoWay).map {
            Message(name: "\($0.routeKey) answer", summary: "The answer to a '\($0.routeKey)' message")
        }
        var lifecycle: [String] = []
        if routes.route(APIRoutes.connect) != nil { lifecycle.append("$connect decides the handshake") }
        if routes.route(APIRoutes.disconnect) != nil { lifecycle.append("$disconnect hears the end") }
        return Channel(
            description: "The WebSocket connection to \(api.name) \(api.version). Messages go to the API's integrations, \(selection)"
                + (lifecycle.isEmpty ? "." : "; " + lifecycle.joined(separator: ", ") + "."),
            publish: Operation(summary: "Messages the client sends, by route", message: Message(oneOf: sent)),
            subscribe: Operation(
                summary: "Messages the client receives: the answers of two-way routes and what the API pushes",
                message: Message(oneOf: answers + [Message(name: "pushed", summary: "A message the API's backend sends by connection id")])
            )
        )
    }

    struct Info: Encodable {
        let title: String
        let version: String
        let description: String
    }
    struct Server: Encodable {
        let url: String
        let `protocol`: String
        let description: String
        let security: [[String: [String]]]
    }
    struct Operation: Encodable {
        let summary: String
        let message: Message
    }
    /// A message, or (`oneOf`) the messages an API with routes tells apart.
    struct Message: Encodable {
        var name: String?
        var summary: String?
        var oneOf: [Message]?
    }
    struct Channel: Encodable {
        let description: String
        let publish: Operation
        let subscribe: Operation
    }
    struct SecurityScheme: Encodable {
        let type: String
        let scheme: String?
        let bearerFormat: String?
        let name: String?
        let `in`: String?
        let description: String
    }
    struct Components: Encodable { let securitySchemes: [String: SecurityScheme] }

    let asyncapi = "2.6.0"
    let id: String
    let info: Info
    let defaultContentType = "application/json"
    let servers: [String: Server]
    let channels: [String: Channel]
    let components: Components

    init(api: WebSocketAPI, urls: (versioned: CatalogController.URLs, defaultVersion: CatalogController.URLs)) {
        id = "urn:portico:api:\(api.id)"
        info = Info(title: api.name, version: api.version, description: api.description)
        let security = [["bearer": [String]()], ["accessTokenQuery": []]]
        var servers: [String: Server] = [:]
        if let ws = urls.versioned.ws {
            servers["production"] = Server(url: ws, protocol: "ws", description: "Gateway (production and sandbox keys)", security: security)
        }
        if let wss = urls.versioned.wss {
            servers["production-secure"] = Server(url: wss, protocol: "wss", description: "Gateway over TLS", security: security)
        }
        self.servers = servers
        if let routes = api.routes {
            channels = ["/": Self.routedChannel(api, routes)]
        } else {
            channels = [
                "/": Channel(
                    description: "The WebSocket connection to \(api.name) \(api.version); the gateway relays frames both ways unchanged.",
                    publish: Operation(summary: "Frames the client sends to the API", message: Message(name: "clientMessage")),
                    subscribe: Operation(summary: "Frames the API sends to the client", message: Message(name: "serverMessage"))
                )
            ]
        }
        components = Components(securitySchemes: [
            "bearer": SecurityScheme(
                type: "http",
                scheme: "bearer",
                bearerFormat: "JWT",
                name: nil,
                in: nil,
                description: "Authorization: Bearer <access token> on the handshake"
            ),
            "accessTokenQuery": SecurityScheme(
                type: "httpApiKey",
                scheme: nil,
                bearerFormat: nil,
                name: "access_token",
                in: "query",
                description: "?access_token=<access token>, for clients that cannot set headers"
            ),
        ])
    }
}
