import Hummingbird
import PorticoCore

/// `/throttling-policies/subscription` under the admin API: business plans created, read, changed
/// and deleted by admins.
struct AdminPlansController {
    let plans: BusinessPlanStore

    static let basePath = "/api/am/admin/v4/throttling-policies/subscription"

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get(use: list)
            .post(use: create)
            .get("{policyId}", use: get)
            .put("{policyId}", use: update)
            .delete("{policyId}", use: delete)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> CountedList<AdminPlan> {
        _ = try context.require(.admin, to: "manage business plans")
        return CountedList(try await plans.list().map(AdminPlan.init))
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> EditedResponse<AdminPlan> {
        _ = try context.require(.admin, to: "manage business plans")
        let body = try await request.decodeJSON(AdminPlan.self, context: context)
        guard let name = body.policyName, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError.invalidField("policyName", "The field is required")
        }
        guard name.count <= 60, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_".contains($0) }) else {
            throw APIError.invalidField("policyName", "'\(name)' must be 1 to 60 letters, digits, '-' or '_'")
        }
        let plan = try await plans.create(try body.plan(id: "", name: name))
        return EditedResponse(status: .created, headers: [.location: "\(Self.basePath)/\(plan.id)"], response: AdminPlan(plan))
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> AdminPlan {
        _ = try context.require(.admin, to: "manage business plans")
        return AdminPlan(try await find(context))
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> AdminPlan {
        _ = try context.require(.admin, to: "manage business plans")
        let current = try await find(context)
        let body = try await request.decodeJSON(AdminPlan.self, context: context)
        if let name = body.policyName, name != current.name {
            throw APIError.invalidField("policyName", "The name of a plan cannot change (it is '\(current.name)')")
        }
        return AdminPlan(try await plans.update(try body.plan(id: current.id, name: current.name)))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        _ = try context.require(.admin, to: "manage business plans")
        try await plans.delete(id: try context.parameters.require("policyId"))
        return .noContent
    }

    private func find(_ context: Context) async throws -> BusinessPlan {
        let id = try context.parameters.require("policyId")
        guard let plan = try await plans.get(id: id) else { throw APIError.notFound("No business plan with id '\(id)'") }
        return plan
    }
}
