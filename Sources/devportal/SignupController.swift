import Foundation
import Hummingbird
import PorticoCore

/// `POST /signup`: anyone may create a `subscriber` account, unless `PORTICO_SIGNUP_ENABLED=false`.
struct SignupController {
    let users: UserStore
    let enabled: Bool

    struct Body: Decodable {
        var username: String?
        var password: String?
        var email: String?
    }
    struct Account: ResponseEncodable {
        let username: String
        let email: String?
        let roles: [String]
    }

    static let switchedOff = APIError.forbidden("Self sign-up is switched off on this devportal; ask an administrator for an account")

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .post(use: signUp)
    }

    @Sendable func signUp(_ request: Request, context: Context) async throws -> EditedResponse<Account> {
        guard enabled else { throw Self.switchedOff }
        let body = try await request.decodeJSON(Body.self, context: context)
        let (username, password) = try User.validatedCredentials(username: body.username, password: body.password)
        let user = try await users.create(username: username, password: password, email: body.email, roles: [.subscriber])
        return EditedResponse(status: .created, response: Account(username: user.username, email: user.email, roles: ["subscriber"]))
    }
}
