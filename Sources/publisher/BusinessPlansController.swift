import Foundation
import Hummingbird
import PorticoCore

/// Business plans: listed to providers under the publisher API, managed by admins under the admin API.
struct BusinessPlansController {
    let plans: BusinessPlanStore

    static let adminPath = "/api/am/admin/v4/throttling-policies/subscription"

    /// Events per time unit, as plans and API ceilings give it: `timeUnit` defaults to min, `unitTime` to 1.
    struct EventCount: Codable, Sendable {
        var timeUnit: String?
        var unitTime: Int?
        var eventCount: Int64?

        init(timeUnit: String?, unitTime: Int?, eventCount: Int64?) {
            self.timeUnit = timeUnit
            self.unitTime = unitTime
            self.eventCount = eventCount
        }

        init(_ limit: BusinessPlan.EventLimit) {
            self.init(timeUnit: limit.timeUnit.rawValue, unitTime: limit.unitTime, eventCount: limit.eventCount)
        }

        /// The limit, every field checked; `field` names this object in errors.
        func limit(field: String) throws -> BusinessPlan.EventLimit {
            guard let events = eventCount, events > 0 else {
                throw APIError.invalidField("\(field).eventCount", "Expected a whole number above 0")
            }
            let unitName = timeUnit ?? "min"
            guard let unit = BusinessPlan.TimeUnit(rawValue: unitName) else {
                let allowed = BusinessPlan.TimeUnit.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError.invalidField("\(field).timeUnit", "'\(unitName)' is not one of \(allowed)")
            }
            let unitTime = unitTime ?? 1
            guard unitTime > 0 else {
                throw APIError.invalidField("\(field).unitTime", "Expected a whole number above 0")
            }
            return .init(eventCount: events, timeUnit: unit, unitTime: unitTime)
        }
    }

    struct Limit: Codable, Sendable {
        var type: String?
        var eventCount: EventCount?
    }

    /// The admin shape (WSO2 admin v4 `SubscriptionThrottlePolicy`, streaming subset, plus what the
    /// gateway enforces). `defaultLimit` null: no event limit. `subscriberCount`: concurrent
    /// connections per subscription, 0 for no cap. `maxMessageBytes` null: the API's limit, else the
    /// gateway default. `excessAction`: drop (default) or close. `countedDirections`: both (default),
    /// clientToBackend or backendToClient.
    struct AdminPlan: Codable, Sendable {
        var policyId: String?
        var policyName: String?
        var displayName: String?
        var description: String?
        var defaultLimit: Limit?
        var subscriberCount: Int?
        var maxMessageBytes: Int?
        var excessAction: String?
        var countedDirections: String?

        init(_ plan: BusinessPlan) {
            policyId = plan.id
            policyName = plan.name
            displayName = plan.displayName
            description = plan.description
            defaultLimit = plan.eventLimit.map {
                Limit(type: "EVENTCOUNTLIMIT", eventCount: EventCount($0))
            }
            subscriberCount = plan.maxConnections
            maxMessageBytes = plan.maxMessageBytes
            excessAction = plan.excessAction.rawValue
            countedDirections = Directions.name(plan.countedDirections)
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
                limit = try count.limit(field: "defaultLimit.eventCount")
            }
            let connections = subscriberCount ?? 0
            guard connections >= 0 else { throw APIError.invalidField("subscriberCount", "Expected 0 (no cap) or more") }
            if let bytes = maxMessageBytes, !BusinessPlan.messageBytesRange.contains(bytes) {
                throw APIError.invalidField("maxMessageBytes", "Expected 1 to 67108864 bytes (or null for the API's limit), not \(bytes)")
            }
            let action = try excessAction.map { name in
                guard let action = BusinessPlan.ExcessAction(rawValue: name) else {
                    throw APIError.invalidField("excessAction", "'\(name)' is not one of drop, close")
                }
                return action
            } ?? .drop
            let directions = try countedDirections.map { name in
                guard let directions = Directions.parse(name) else {
                    throw APIError.invalidField("countedDirections", "'\(name)' is not one of both, clientToBackend, backendToClient")
                }
                return directions
            } ?? .both
            let display = displayName ?? name
            guard !display.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw APIError.invalidField("displayName", "The display name must not be empty")
            }
            return BusinessPlan(
                id: id, name: name, displayName: display, description: description ?? "", eventLimit: limit,
                maxConnections: connections, maxMessageBytes: maxMessageBytes, excessAction: action, countedDirections: directions)
        }
    }

    /// `countedDirections` in JSON: camel case, like the other fields.
    enum Directions {
        static func name(_ directions: BusinessPlan.CountedDirections) -> String {
            switch directions {
            case .both: "both"
            case .clientToBackend: "clientToBackend"
            case .backendToClient: "backendToClient"
            }
        }

        static func parse(_ name: String) -> BusinessPlan.CountedDirections? {
            BusinessPlan.CountedDirections.allCases.first { self.name($0) == name }
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
        let maxMessageBytes: Int?
        let excessAction: String
        let countedDirections: String

        init(_ plan: BusinessPlan) {
            name = plan.name
            displayName = plan.displayName
            description = plan.description
            requestCount = plan.eventLimit?.eventCount
            timeUnit = plan.eventLimit?.timeUnit.rawValue
            unitTime = plan.eventLimit?.unitTime
            subscriberCount = plan.maxConnections
            maxMessageBytes = plan.maxMessageBytes
            excessAction = plan.excessAction.rawValue
            countedDirections = Directions.name(plan.countedDirections)
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
            let body = try await request.decodeJSON(AdminPlan.self, context: context)
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
            let body = try await request.decodeJSON(AdminPlan.self, context: context)
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
