import Foundation

/// An application plan: events per time unit across all of one application's subscriptions.
public struct ApplicationPlan: Sendable, Equatable {
    public var id: String
    public var name: String
    public var displayName: String
    public var description: String
    /// nil: no limit.
    public var eventLimit: BusinessPlan.EventLimit?

    public init(id: String, name: String, displayName: String, description: String, eventLimit: BusinessPlan.EventLimit?) {
        self.id = id
        self.name = name
        self.displayName = displayName
        self.description = description
        self.eventLimit = eventLimit
    }
}

/// An application a developer builds against subscribed APIs; it owns client keys.
public struct ClientApplication: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var ownerID: String
    public var owner: String
    public var plan: String
    public var subscriptionCount: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, name: String, description: String, ownerID: String, owner: String, plan: String,
                subscriptionCount: Int, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.name = name
        self.description = description
        self.ownerID = ownerID
        self.owner = owner
        self.plan = plan
        self.subscriptionCount = subscriptionCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public static func validateName(_ name: String) -> String? {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return "The name must not be empty" }
        if trimmed != name { return "The name must not start or end with spaces" }
        if name.count > 70 { return "The name is longer than 70 characters" }
        if name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) {
            return "The name must not contain control characters"
        }
        return nil
    }
}

/// An application's subscription to an API under a business plan.
public struct Subscription: Sendable, Equatable {
    /// WSO2's subscription states. PROD_ONLY_BLOCKED blocks production keys and lets sandbox keys through.
    public enum Status: String, Codable, Sendable, CaseIterable {
        case unblocked = "UNBLOCKED"
        case blocked = "BLOCKED"
        case prodOnlyBlocked = "PROD_ONLY_BLOCKED"
    }

    public var id: String
    public var applicationID: String
    public var applicationName: String
    public var applicationOwner: String
    public var apiID: String
    public var apiName: String
    public var apiContext: String
    public var apiVersion: String
    public var plan: String
    public var status: Status
    public var createdAt: Date

    public init(id: String, applicationID: String, applicationName: String, applicationOwner: String, apiID: String,
                apiName: String, apiContext: String, apiVersion: String, plan: String, status: Status, createdAt: Date) {
        self.id = id
        self.applicationID = applicationID
        self.applicationName = applicationName
        self.applicationOwner = applicationOwner
        self.apiID = apiID
        self.apiName = apiName
        self.apiContext = apiContext
        self.apiVersion = apiVersion
        self.plan = plan
        self.status = status
        self.createdAt = createdAt
    }
}

/// Which endpoint a key's tokens reach: production or sandbox.
public enum KeyType: String, Codable, Sendable, CaseIterable {
    case production = "PRODUCTION"
    case sandbox = "SANDBOX"
}

/// An application's OAuth2 client credentials for one key type (the secret itself is never kept).
public struct ClientKey: Sendable, Equatable {
    public var id: String
    public var applicationID: String
    public var keyType: KeyType
    public var consumerKey: String
    public var secretHash: String
    public var grantTypes: [String]

    public init(id: String, applicationID: String, keyType: KeyType, consumerKey: String, secretHash: String, grantTypes: [String]) {
        self.id = id
        self.applicationID = applicationID
        self.keyType = keyType
        self.consumerKey = consumerKey
        self.secretHash = secretHash
        self.grantTypes = grantTypes
    }

    /// The grant types Portico's token endpoint supports.
    public static let supportedGrantTypes = ["client_credentials"]
}
