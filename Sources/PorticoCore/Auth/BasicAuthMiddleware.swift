import Foundation
import Hummingbird

/// HTTP Basic authentication (RFC 7617), or a personal access token (`Authorization: Bearer
/// pat_…`), through the `Authenticator`. Missing or wrong credentials
/// are a 401 with `WWW-Authenticate`, too many failures a 429; a route decides about roles itself
/// (403). With `required: false` a request without credentials passes as anonymous, while wrong
/// credentials are still a 401.
package struct BasicAuthMiddleware: RouterMiddleware {
    package typealias Context = PorticoRequestContext
    let authenticator: Authenticator
    let required: Bool

    package init(_ authenticator: Authenticator, required: Bool = true) {
        self.authenticator = authenticator
        self.required = required
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A portal page calling the REST API in process (`RESTBridge`) has signed its user in with
        // its session already; a request from the network always arrives with no user.
        if context.user != nil, context.page != nil { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            if !required { return try await next(request, context) }
            throw APIError.unauthorized("This resource needs HTTP Basic authentication")
        }
        let user: User
        if let token = Self.bearer(header) {
            user = try await authenticator.authenticate(token: token, address: context.clientAddress)
        } else if let (username, password) = Self.parse(header) {
            user = try await authenticator.authenticate(username: username, password: password, address: context.clientAddress)
        } else {
            throw APIError.unauthorized("The Authorization header is neither HTTP Basic credentials nor a personal access token")
        }
        var context = context
        context.user = user
        context.logger[metadataKey: "user"] = .string(user.username)
        return try await next(request, context)
    }

    /// The token of `Bearer pat_…` (the scheme is case-insensitive), or nil.
    package static func bearer(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.hasPrefix(PersonalAccessToken.prefix) ? token : nil
    }

    /// Splits `Basic base64(user:password)`; the scheme is case-insensitive. Credentials with a
    /// control character (TextInput) are not credentials: nil, so the caller answers 401.
    package static func parse(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let decoded = String(data: data, encoding: .utf8),
            TextInput.firstControlCharacter(in: decoded) == nil,
            let colon = decoded.firstIndex(of: ":")
        else { return nil }
        return (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
    }
}
