import Hummingbird

/// The request context of Portico's REST services: Hummingbird's core storage plus the user that
/// Basic authentication resolved.
package struct PorticoRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    /// Set by `BasicAuthMiddleware`; nil on anonymous routes.
    package var user: User?
    /// The peer's IP address (the TCP connection's, not a header's), for limits kept per address.
    package let clientAddress: String?
    /// The largest request body the service accepts (`PORTICO_MAX_BODY_BYTES`), set for every
    /// request by `RequestPolicyMiddleware`; `decodeJSON` and the OAuth2 form parser read it, as
    /// Hummingbird's own decoding does.
    package var maxUploadSize: Int
    /// On a portal's pages: the browser session (if any) and the CSRF token its forms carry; set by
    /// `PortalMiddleware`, nil on REST routes.
    package var page: PageState?
    /// Every JSON answer a handler returns is written by it.
    package var responseEncoder: JSONResponseEncoder { JSONResponseEncoder() }

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.user = nil
        self.page = nil
        self.clientAddress = source.channel.remoteAddress?.ipAddress
        self.maxUploadSize = CoreSettings.defaultMaxBodyBytes
    }

    /// The signed-in user, who must hold `role` (or be an admin): 401 when nobody signed in, 403
    /// when the role is missing.
    package func require(_ role: Role, to action: String) throws -> User {
        guard let user else { throw APIError.unauthorized("Sign in with HTTP Basic authentication") }
        guard user.may(role) else {
            throw APIError.forbidden("User '\(user.username)' needs the '\(role.rawValue)' role to \(action)")
        }
        return user
    }

    /// The signed-in user, who must hold at least one of `roles` (or be an admin).
    package func requireAny(_ roles: [Role], to action: String) throws -> User {
        guard let user else { throw APIError.unauthorized("Sign in with HTTP Basic authentication") }
        guard roles.contains(where: user.may) else {
            let names = roles.map { "'\($0.rawValue)'" }.joined(separator: " or ")
            throw APIError.forbidden("User '\(user.username)' needs the \(names) role to \(action)")
        }
        return user
    }
}
