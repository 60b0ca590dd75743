/// What a user may do. `admin` may do everything.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Manages users and business plans; may do everything the other roles may.
    case admin
    /// Designs APIs: creates, edits, copies and deletes them.
    case creator
    /// Moves APIs through their lifecycle.
    case publisher
    /// Uses the devportal: applications, subscriptions, keys.
    case subscriber
}

/// A signed-in user as the REST services see it.
public struct User: Sendable, Equatable {
    public let id: String
    public let username: String
    public let email: String?
    public let roles: Set<Role>

    public init(id: String, username: String, email: String?, roles: Set<Role>) {
        self.id = id
        self.username = username
        self.email = email
        self.roles = roles
    }

    /// True when the user holds `role` or is an admin.
    public func may(_ role: Role) -> Bool {
        roles.contains(.admin) || roles.contains(role)
    }
}
