import Foundation
import Hummingbird
import PorticoCore

/// Business plans: listed to providers under the publisher API, managed by admins under the admin API.
struct BusinessPlansController {
    let plans: BusinessPlanStore
    let maxBodyBytes: Int

    static let adminPath = "/api/am/admin/v4/throttling-policies/subscription"

    struct EventCount: Codable, Sendable {
        var timeUnit: String?
        var unitTime: Int?
        var eventCount: Int64?
    }

    struct Limit: Codable, Sendable {
        var type: String?
        var eventCount: EventCount?
    }

    /// The admin shape (WSO2 admin v4 `SubscriptionThrottlePolicy`, streaming subset).
    /// `defaultLimit` null: no event limit. `subscriberCount`: concurrent connections per
    /// subscription, 0 for no cap.
    struct AdminPlan: Codable, Sendable {
        var policyId: String?
        var policyName: String?
        var displayName: String?
        var description: String?
        var defaultLimit: Limit?
        var subscriberCount: Int?

        init(_ plan: BusinessPlan) {
            policyId = plan.id
            policyName = plan.name
            displayName = plan.displayName
            description = plan.description
            defaultLimit = plan.eventLimit.map {
                Limit(type: "EVENTCOUNTLIMIT", eventCount: EventCount(timeUnit: $0.timeUnit.rawValue, unitTime: $0.unitTime, eventCount: $0.eventCount))
            }
            subscriberCount = plan.maxConnections
        }

        /// The plan this body describes, every field checked and named when wrong.
        func plan(id: String, name: String) throws -> BusinessPlan {
            var limit: BusinessPlan.EventLimit?
            if let defaultLimit {
                if let type = defaultLimit.type, type != "EVENTCOUNTLIMIT" {
                    throw APIError.invalidField("defaultLimit.type", "Streaming plans limit events: use \"EVENTCOUNTLIMIT\", not \"\(type)\"")
                }
                guard let count = defaultLimit.eventCount else {
                    throw APIError.invalidField("defaultLimit.eventCount", "The field is required when defaultLimit is given")
                }
                guard let events = count.eventCount, events > 0 else {
                    throw APIError.invalidField("defaultLimit.eventCount.eventCount", "Expected a whole number above 0")
                }
                let unitName = count.timeUnit ?? "min"
                guard let unit = BusinessPlan.TimeUnit(rawValue: unitName) else {
                    let allowed = BusinessPlan.TimeUnit.allCases.map(\.rawValue).joined(separator: ", ")
                    throw APIError.invalidField("defaultLimit.eventCount.timeUnit", "'\(unitName)' is not one of \(allowed)")
                }
                let unitTime = count.unitTime ?? 1
                guard unitTime > 0 else {
                    throw APIError.invalidField("defaultLimit.eventCount.unitTime", "Expected a whole number above 0")
                }
                limit = .init(eventCount: events, timeUnit: unit, unitTime: unitTime)
            }
            let connections = subscriberCount ?? 0
            guard connections >= 0 else { throw APIError.invalidField("subscriberCount", "Expected 0 (no cap) or more") }
            let display = displayName ?? name
            guard !display.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw APIError.invalidField("displayName", "The display name must not be empty")
            }
            return BusinessPlan(
                id: id, name: name, displayName: display, description: description ?? "", eventLimit: limit,
                maxConnections: connections)
        }
    }

    /// The publisher's list shape (WSO2 publisher v4 `ThrottlingPolicy`, streaming subset).
    struct PublisherPlan: Encodable, Sendable {
        let name: String
        let displayName: String
        let description: String
        let policyLevel = "subscription"
        let quotaPolicyType = "EVENTCOUNT"
        let requestCount: Int64?
        let timeUnit: String?
        let unitTime: Int?
        let subscriberCount: Int

        init(_ plan: BusinessPlan) {
            name = plan.name
            displayName = plan.displayName
            description = plan.description
            requestCount = plan.eventLimit?.eventCount
            timeUnit = plan.eventLimit?.timeUnit.rawValue
            unitTime = plan.eventLimit?.unitTime
            subscriberCount = plan.maxConnections
        }
    }

    func addPublisherRoutes(to group: RouterGroup<Context>) {
        group.get("streaming/subscription") { _, context in
            _ = try context.requireAny([.creator, .publisher], to: "list business plans")
            let all = try await plans.list().map(PublisherPlan.init)
            return try jsonResponse(CountedList(all))
        }
    }

    func addAdminRoutes(to group: RouterGroup<Context>) {
        group.get { _, context in
            _ = try context.require(.admin, to: "manage business plans")
            let all = try await plans.list().map(AdminPlan.init)
            return try jsonResponse(CountedList(all))
        }
        group.post { request, context in
            _ = try context.require(.admin, to: "manage business plans")
            let body = try await request.decodeJSON(AdminPlan.self, limit: maxBodyBytes)
            guard let name = body.policyName, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw APIError.invalidField("policyName", "The field is required")
            }
            guard name.count <= 60, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_".contains($0) }) else {
                throw APIError.invalidField("policyName", "'\(name)' must be 1 to 60 letters, digits, '-' or '_'")
            }
            let plan = try await plans.create(try body.plan(id: "", name: name))
            return try jsonResponse(AdminPlan(plan), status: .created, headers: [.location: "\(Self.adminPath)/\(plan.id)"])
        }
        group.get("{policyId}") { _, context in
            _ = try context.require(.admin, to: "manage business plans")
            return try jsonResponse(AdminPlan(try await find(context)))
        }
        group.put("{policyId}") { request, context in
            _ = try context.require(.admin, to: "manage business plans")
            let current = try await find(context)
            let body = try await request.decodeJSON(AdminPlan.self, limit: maxBodyBytes)
            if let name = body.policyName, name != current.name {
                throw APIError.invalidField("policyName", "The name of a plan cannot change (it is '\(current.name)')")
            }
            return try jsonResponse(AdminPlan(try await plans.update(try body.plan(id: current.id, name: current.name))))
        }
        group.delete("{policyId}") { _, context in
            _ = try context.require(.admin, to: "manage business plans")
            try await plans.delete(id: try context.parameters.require("policyId"))
            return Response(status: .noContent)
        }
    }

    private func find(_ context: Context) async throws -> BusinessPlan {
        let id = try context.parameters.require("policyId")
        guard let plan = try await plans.get(id: id) else { throw APIError.notFound("No business plan with id '\(id)'") }
        return plan
    }
}
