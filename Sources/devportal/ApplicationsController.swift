import Foundation
import Hummingbird
import PorticoCore

/// `/applications` and `/throttling-policies/application`: a developer's own applications and their usage.
struct ApplicationsController {
    let applications: ApplicationStore
    let usage: UsageStore

    static let basePath = "/api/am/devportal/v3/applications"

    struct Body: Decodable {
        var name: String?
        var throttlingPolicy: String?
        var description: String?
        var tokenType: String?

        func checked() throws -> Body {
            if let name, let problem = ClientApplication.validateName(name) { throw APIError.invalidField("name", problem) }
            if let tokenType, tokenType.uppercased() != "JWT" {
                throw APIError.invalidField("tokenType", "Portico issues JWT access tokens only: use \"JWT\", not \"\(tokenType)\"")
            }
            if let description, description.count > 10_000 {
                throw APIError.invalidField("description", "The description is longer than 10000 characters")
            }
            return self
        }
    }

    /// WSO2 devportal v3 `Application`.
    struct Representation: ResponseEncodable {
        let applicationId, name, throttlingPolicy, description, owner: String
        let tokenType = "JWT"
        let status = "APPROVED"
        let subscriptionCount: Int
        let createdTime: Date

        init(_ application: ClientApplication) {
            applicationId = application.id
            name = application.name
            throttlingPolicy = application.plan
            description = application.description
            owner = application.owner
            subscriptionCount = application.subscriptionCount
            createdTime = application.createdAt
        }
    }

    struct PlanRepresentation: Encodable, Sendable {
        let name, displayName, description: String
        let policyLevel = "application"
        let requestCount: Int64?
        let timeUnit: String?
        let unitTime: Int?
    }

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get("throttling-policies/application", use: applicationPlans)
            .get("applications", use: list)
            .post("applications", use: create)
            .get("applications/{applicationId}", use: get)
            .put("applications/{applicationId}", use: update)
            .get("applications/{applicationId}/usage", use: usageOverTime)
            .delete("applications/{applicationId}", use: delete)
    }

    @Sendable func applicationPlans(_ request: Request, context: Context) async throws -> CountedList<PlanRepresentation> {
        _ = try context.developer(to: "list application plans")
        let plans = try await applications.plans().map {
            PlanRepresentation(
                name: $0.name,
                displayName: $0.displayName,
                description: $0.description,
                requestCount: $0.eventLimit?.eventCount,
                timeUnit: $0.eventLimit?.timeUnit.rawValue,
                unitTime: $0.eventLimit?.unitTime
            )
        }
        return CountedList(plans)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Page<Representation> {
        let user = try context.developer(to: "list applications")
        let query = request.queryParameters
        let page = try PageRequest(query: query)
        let (found, total) = try await applications.list(owner: user, page: page, nameContains: query["query"])
        return Page(list: found.map(Representation.init), total: total, page: page, path: Self.basePath)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> EditedResponse<Representation> {
        let user = try context.developer(to: "create applications")
        let body = try await request.decodeJSON(Body.self, context: context).checked()
        guard let name = body.name else { throw APIError.invalidField("name", "The field is required") }
        let application = try await applications.create(
            name: name,
            description: body.description ?? "",
            plan: body.throttlingPolicy ?? "Unlimited",
            owner: user
        )
        return EditedResponse(status: .created, headers: [.location: "\(Self.basePath)/\(application.id)"], response: Representation(application))
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> Representation {
        let user = try context.developer(to: "read applications")
        return Representation(try await find(context, user))
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> Representation {
        let user = try context.developer(to: "change applications")
        let current = try await find(context, user)
        let body = try await request.decodeJSON(Body.self, context: context).checked()
        let updated = try await applications.update(
            id: current.id,
            owner: user,
            name: body.name,
            description: body.description,
            plan: body.throttlingPolicy
        )
        return Representation(updated)
    }

    @Sendable func usageOverTime(_ request: Request, context: Context) async throws -> UsageReport {
        let user = try context.developer(to: "read application usage")
        let application = try await find(context, user)
        let query = try UsageQuery(query: request.queryParameters)
        return try await UsageReport.read(.application(application.id), query: query, from: usage)
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        let user = try context.developer(to: "delete applications")
        try await applications.delete(id: try context.parameters.require("applicationId"), owner: user)
        return .noContent
    }

    func find(_ context: Context, _ user: User) async throws -> ClientApplication {
        try await Self.find(try context.parameters.require("applicationId"), owner: user, in: applications)
    }

    static func find(_ id: String, owner: User, in applications: ApplicationStore) async throws -> ClientApplication {
        guard let application = try await applications.get(id: id, owner: owner) else {
            throw APIError.notFound("No application with id '\(id)'")
        }
        return application
    }
}
