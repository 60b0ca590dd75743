/// What a user may do. `admin` may do everything.
package enum Role: String, Codable, Sendable, CaseIterable {
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
package struct User: Sendable, Equatable {
    package let id: String
    package let username: String
    package let email: String?
    package let roles: Set<Role>

    package init(id: String, username: String, email: String?, roles: Set<Role>) {
        self.id = id
        self.username = username
        self.email = email
        self.roles = roles
    }

    /// True when the user holds `role` or is an admin.
    package func may(_ role: Role) -> Bool {
        roles.contains(.admin) || roles.contains(role)
    }

    package static let minimumPasswordLength = 8

    /// Checks a new account's name and password; the error names the field. Names are ASCII, so a
    /// name that is not is nobody's (`Authenticator` relies on it).
    package static func validatedCredentials(username: String?, password: String?) throws(FieldError) -> (username: String, password: String) {
        guard let username else { throw FieldError(field: "username", reason: "The field is required") }
        guard (1...64).contains(username.count),
            username.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-@".contains($0)) })
        else {
            throw FieldError(field: "username", reason: "'\(username)' must be 1 to 64 characters: letters, digits, '.', '_', '-' or '@'")
        }
        guard let password else { throw FieldError(field: "password", reason: "The field is required") }
        guard password.count >= minimumPasswordLength else {
            throw FieldError(field: "password", reason: "The password must have at least \(minimumPasswordLength) characters")
        }
        return (username, password)
    }
}
