import Foundation

/// An application plan: events per time unit across all of one application's subscriptions.
package struct ApplicationPlan: Sendable, Equatable {
    package var id: String
    package var name: String
    package var displayName: String
    package var description: String
    /// nil: no limit.
    package var eventLimit: BusinessPlan.EventLimit?

    package init(id: String, name: String, displayName: String, description: String, eventLimit: BusinessPlan.EventLimit?) {
        self.id = id
        self.name = name
        self.displayName = displayName
        self.description = description
        self.eventLimit = eventLimit
    }
}

/// An application a developer builds against subscribed APIs; it owns client keys.
package struct ClientApplication: Sendable, Equatable {
    package var id: String
    package var name: String
    package var description: String
    package var ownerID: String
    package var owner: String
    package var plan: String
    package var subscriptionCount: Int
    package var createdAt: Date
    package var updatedAt: Date

    package init(
        id: String,
        name: String,
        description: String,
        ownerID: String,
        owner: String,
        plan: String,
        subscriptionCount: Int,
        createdAt: Date,
        updatedAt: Date
    ) {
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

    package static func validateName(_ name: String) -> String? {
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
package struct Subscription: Sendable, Equatable {
    /// WSO2's subscription states. PROD_ONLY_BLOCKED blocks production keys and lets sandbox keys through.
    package enum Status: String, Codable, Sendable, CaseIterable {
        case unblocked = "UNBLOCKED"
        case blocked = "BLOCKED"
        case prodOnlyBlocked = "PROD_ONLY_BLOCKED"
    }

    package var id: String
    package var applicationID: String
    package var applicationName: String
    package var applicationOwner: String
    package var apiID: String
    package var apiName: String
    package var apiContext: String
    package var apiVersion: String
    package var plan: String
    package var status: Status
    package var createdAt: Date

    package init(
        id: String,
        applicationID: String,
        applicationName: String,
        applicationOwner: String,
        apiID: String,
        apiName: String,
        apiContext: String,
        apiVersion: String,
        plan: String,
        status: Status,
        createdAt: Date
    ) {
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
package enum KeyType: String, Codable, Sendable, CaseIterable {
    case production = "PRODUCTION"
    case sandbox = "SANDBOX"
}

/// An application's OAuth2 client credentials for one key type (the secret itself is never kept).
package struct ClientKey: Sendable, Equatable {
    package var id: String
    package var applicationID: String
    package var keyType: KeyType
    package var consumerKey: String
    package var secretHash: String
    package var grantTypes: [String]

    package init(id: String, applicationID: String, keyType: KeyType, consumerKey: String, secretHash: String, grantTypes: [String]) {
        self.id = id
        self.applicationID = applicationID
        self.keyType = keyType
        self.consumerKey = consumerKey
        self.secretHash = secretHash
        self.grantTypes = grantTypes
    }

    /// The grant types Portico's token endpoint supports.
    package static let supportedGrantTypes = ["client_credentials"]
}
