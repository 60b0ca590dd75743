import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// In front of every page of a portal:
/// - finds the browser's session from the portal's own cookie and signs its user in (the same
///   `User` value the REST API's Basic authentication yields);
/// - gives a page without a session a CSRF token of its own in a cookie (for sign-in and sign-up);
/// - refuses every state-changing request (any method but GET and HEAD) whose form field `csrf` or
///   header `X-CSRF-Token` does not match that token (403), before any handler runs;
/// - answers every failure as an HTML page with the status the REST API would give, and a page
///   that needs a signed-in user with a redirect to sign-in;
/// - sets the security headers of every page (CSP without inline script, no framing, no sniffing,
///   no caching of signed-in pages).
package struct PortalMiddleware: RouterMiddleware {
    package typealias Context = PorticoRequestContext
    let portal: Portal

    package init(_ portal: Portal) {
        self.portal = portal
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var newCSRFCookie: String?
        var state: PageState
        if let cookie = request.cookies[portal.sessionCookieName]?.value,
            let session = try await portal.sessions.find(cookie: cookie, portal: portal.kind)
        {
            state = PageState(session: session, csrfToken: session.csrfToken)
            context.user = session.user
            context.logger[metadataKey: "user"] = .string(session.user.username)
        } else if let token = request.cookies[portal.csrfCookieName]?.value, token.utf8.count == 43 {
            state = PageState(session: nil, csrfToken: token)
        } else {
            let token = PresentedSecret.newSecret()
            state = PageState(session: nil, csrfToken: token)
            newCSRFCookie = token
        }
        var response: Response
        do {
            if request.method != .get && request.method != .head {
                state.form = try await PageForm.read(request, context: context)
                let presented = request.headers[.xCSRFToken] ?? state.form["csrf"] ?? ""
                guard newCSRFCookie == nil, Self.same(presented, state.csrfToken) else {
                    throw APIError.forbidden("This form has expired or did not come from this portal; reload the page and send it again")
                }
            }
            context.page = state
            response = try await next(request, context)
        } catch {
            context.page = state
            response = try failure(error, request: request, context: context)
        }
        if let newCSRFCookie { response.setCookie(portal.cookie(portal.csrfCookieName, newCSRFCookie)) }
        Self.secure(&response.headers)
        return response
    }

    /// Compares in constant time, so the token is not found a byte at a time.
    static func same(_ presented: String, _ expected: String) -> Bool {
        let a = Array(presented.utf8)
        let b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// A failure as a page: not signed in goes to sign-in (then back); anything else renders the
    /// error page with the REST API's status and words. Internal errors say nothing of themselves.
    func failure(_ error: any Error, request: Request, context: Context) throws -> Response {
        let status: HTTPResponse.Status
        let message: String
        let detail: String
        switch error {
        case let refusal as RESTRefusal:
            (status, message, detail) = (refusal.status, refusal.message, refusal.description)
        case let error as APIError:
            (status, message, detail) = (error.status, error.message, error.detail)
        case let error as HTTPError:
            (status, message, detail) = (error.status, error.status.reasonPhrase, error.body ?? "")
        default:
            context.logger.error("page failed", metadata: ["error": "\(String(reflecting: error))"])
            (status, message, detail) = (.internalServerError, "Internal Server Error", "The page could not be made; the service's log says why")
        }
        if status == .unauthorized, context.page?.session == nil, request.method == .get {
            let next = request.uri.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "/-_.~"))) ?? ""
            return Portal.redirect(to: "\(portal.path)/signin?next=\(next)")
        }
        return try portal.pages.render("error", ["status": status.code, "message": message, "detail": detail], context: context, status: status)
    }

    static func secure(_ headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.xFrameOptions] = "DENY"
        headers[.referrerPolicy] = "same-origin"
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
    }
}

extension HTTPField.Name {
    static let xCSRFToken = Self("X-CSRF-Token")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
