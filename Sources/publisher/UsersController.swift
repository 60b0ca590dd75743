import Foundation
import Hummingbird
import PorticoCore

/// `/api/am/admin/v4/users`: admins create users and give them roles.
struct UsersController {
    let users: UserStore

    struct NewUser: Decodable {
        var username: String?
        var password: String?
        var email: String?
        var roles: [String]?
    }

    struct UserRepresentation: ResponseEncodable, Sendable {
        let userId: String
        let username: String
        let email: String?
        let roles: [String]

        init(_ user: User) {
            userId = user.id
            username = user.username
            email = user.email
            roles = user.roles.map(\.rawValue).sorted()
        }
    }

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get(use: list)
            .post(use: create)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> CountedList<UserRepresentation> {
        _ = try context.require(.admin, to: "manage users")
        return CountedList(try await users.list().map(UserRepresentation.init))
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> EditedResponse<UserRepresentation> {
        _ = try context.require(.admin, to: "manage users")
        let body = try await request.decodeJSON(NewUser.self, context: context)
        let (username, password) = try User.validatedCredentials(username: body.username, password: body.password)
        let roleNames = body.roles ?? []
        guard !roleNames.isEmpty else {
            throw APIError.invalidField("roles", "Give at least one of: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var roles = Set<Role>()
        for name in roleNames {
            guard let role = Role(rawValue: name.lowercased()) else {
                throw APIError.invalidField("roles", "'\(name)' is not one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            roles.insert(role)
        }
        let user = try await users.create(username: username, password: password, email: body.email, roles: roles)
        return EditedResponse(status: .created, response: UserRepresentation(user))
    }
}
