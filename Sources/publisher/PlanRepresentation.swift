import Foundation
import Hummingbird
import PorticoCore

// The JSON shapes of business plans: the publisher's list and the admin's resource.

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

/// A plan's `defaultLimit`: WSO2's limit object, of which streaming plans use the event count.
struct PlanLimit: Codable, Sendable {
    var type: String?
    var eventCount: EventCount?
}

/// The admin shape (WSO2 admin v4 `SubscriptionThrottlePolicy`, streaming subset, plus what the
/// gateway enforces). `defaultLimit` null: no event limit. `subscriberCount`: concurrent
/// connections per subscription, 0 for no cap. `maxMessageBytes` null: the API's limit, else the
/// gateway default. `excessAction`: drop (default) or close. `countedDirections`: both (default),
/// clientToBackend or backendToClient.
struct AdminPlan: Codable, ResponseEncodable, Sendable {
    var policyId: String?
    var policyName: String?
    var displayName: String?
    var description: String?
    var defaultLimit: PlanLimit?
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
            PlanLimit(type: "EVENTCOUNTLIMIT", eventCount: EventCount($0))
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
        let action =
            try excessAction.map { name in
                guard let action = BusinessPlan.ExcessAction(rawValue: name) else {
                    throw APIError.invalidField("excessAction", "'\(name)' is not one of drop, close")
                }
                return action
            } ?? .drop
        let directions =
            try countedDirections.map { name in
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
            id: id,
            name: name,
            displayName: display,
            description: description ?? "",
            eventLimit: limit,
            maxConnections: connections,
            maxMessageBytes: maxMessageBytes,
            excessAction: action,
            countedDirections: directions
        )
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
struct PublisherPlan: ResponseEncodable, Sendable {
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
