import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// What a page knows of its browser: the session (nil when nobody signed in) and the CSRF token
/// every form and script of this page must send back.
package struct PageState: Sendable {
    package var session: WebSession?
    package var csrfToken: String
    /// A state-changing request's form, read and checked once by `PortalMiddleware`.
    package var form: [String: String] = [:]
}

extension PorticoRequestContext {
    /// The posted form of a page request (empty for a GET).
    package var form: [String: String] { page?.form ?? [:] }
}

/// One web portal (the publisher console or the developer portal): its path, its cookies, its
/// sessions, its templates, and its one path to the data (`RESTBridge`). Both portals run on one
/// host in development and cookies do not separate by port, so each portal's cookies have their
/// own names and their own path: signing in to one never signs anyone out of the other.
package struct Portal: Sendable {
    package let kind: WebSession.Portal
    package let sessions: WebSessionStore
    package let authenticator: Authenticator
    package let pages: PageRenderer
    package let rest: RESTBridge
    package let secureCookies: Bool
    package let gateway: PublicGatewayAddress

    package init(
        kind: WebSession.Portal,
        database: Database,
        authenticator: Authenticator,
        pages: PageRenderer,
        rest: RESTBridge,
        settings: CoreSettings
    ) {
        self.kind = kind
        sessions = WebSessionStore(database: database, idleSeconds: settings.sessionIdleSeconds, maxSeconds: settings.sessionMaxSeconds)
        self.authenticator = authenticator
        self.pages = pages
        self.rest = rest
        secureCookies = settings.secureCookies
        gateway = settings.gateway
    }

    /// `/publisher` or `/devportal`.
    package var path: String { "/\(kind.rawValue)" }
    var sessionCookieName: String { "portico_\(kind.rawValue)_session" }
    var csrfCookieName: String { "portico_\(kind.rawValue)_csrf" }

    func cookie(_ name: String, _ value: String, maxAge: Int? = nil) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: path, secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    /// Where a sign-in may send the browser afterwards: a path of this portal only (never another
    /// host, never `//host`), else the portal's home.
    package func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix(path + "/") || next == path, !next.hasPrefix("//"), !next.contains("\\"),
            next.utf8.count <= 512, TextInput.firstControlCharacter(in: next) == nil
        else { return path + "/" }
        return next
    }

    /// A 303 to `location` (after a form: the browser then GETs it).
    package static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// The routes every portal has: its assets, sign-in and sign-out.
    package var sessionEndpoints: RouteCollection<PorticoRequestContext> {
        RouteCollection(context: PorticoRequestContext.self)
            .get("assets/{file}", use: asset)
            .get("signin", use: signInPage)
            .post("signin", use: signIn)
            .post("signout", use: signOut)
    }

    @Sendable func asset(_ request: Request, context: PorticoRequestContext) async throws -> Response {
        let name = try context.parameters.require("file")
        guard let asset = PortalAssets.named(name) else { throw APIError.notFound("No asset named '\(name.prefix(64))'") }
        return Response(
            status: .ok,
            headers: [.contentType: asset.contentType, .cacheControl: "public, max-age=300", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: asset.bytes)
        )
    }

    @Sendable func signInPage(_ request: Request, context: PorticoRequestContext) async throws -> Response {
        if context.page?.session != nil { return Self.redirect(to: safeNext(request.uri.queryParameters["next"].map(String.init))) }
        return try pages.render("signin", ["next": safeNext(request.uri.queryParameters["next"].map(String.init))], context: context)
    }

    /// Signs in with the same checks (and the same limits on guessing) as HTTP Basic on the REST API;
    /// the password arrives in the form's body only, never in a URL.
    @Sendable func signIn(_ request: Request, context: PorticoRequestContext) async throws -> Response {
        let form = context.form
        let response = try await signIn(
            username: form["username"] ?? "",
            password: form["password"] ?? "",
            next: safeNext(form["next"]),
            context: context
        )
        // A new sign-in replaces the session this browser had: the old one ends.
        if response.status == .seeOther, let old = request.cookies[sessionCookieName]?.value { try await sessions.end(cookie: old) }
        return response
    }

    /// Checks the credentials, begins a session and sends the browser to `next`; a refusal renders
    /// the sign-in page with the REST API's words and status (401, or 429 with `Retry-After`).
    package func signIn(username: String, password: String, next: String, context: PorticoRequestContext) async throws -> Response {
        let user: User
        do {
            user = try await authenticator.authenticate(username: username, password: password, address: context.clientAddress)
        } catch let error as APIError {
            var page = try pages.render(
                "signin",
                ["next": next, "username": username, "error": error.detail],
                context: context,
                status: error.status
            )
            if let retry = error.headers[.retryAfter] { page.headers[.retryAfter] = retry }
            return page
        }
        let (_, cookie) = try await sessions.begin(for: user, portal: kind)
        context.logger.notice("portal sign-in", metadata: ["portal": "\(kind.rawValue)", "user": "\(user.username)"])
        var response = Self.redirect(to: next)
        response.setCookie(self.cookie(sessionCookieName, cookie))
        return response
    }

    @Sendable func signOut(_ request: Request, context: PorticoRequestContext) async throws -> Response {
        if let cookie = request.cookies[sessionCookieName]?.value { try await sessions.end(cookie: cookie) }
        var response = Self.redirect(to: path + "/signin")
        response.setCookie(self.cookie(sessionCookieName, "", maxAge: 0))
        return response
    }
}

/// A page's form, read once: the body (bounded by the service's body limit) as
/// `application/x-www-form-urlencoded`, each value checked for control characters.
package enum PageForm {
    package static func read(_ request: Request, context: PorticoRequestContext) async throws -> [String: String] {
        let buffer = try await request.collectBody(
            atMost: context.maxUploadSize,
            tooLarge: APIError(.contentTooLarge, "Content Too Large", "The form is larger than \(context.maxUploadSize) bytes")
        )
        let contentType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard contentType == "application/x-www-form-urlencoded" || buffer.readableBytes == 0 else {
            throw APIError(.unsupportedMediaType, "Unsupported Media Type", "A page takes forms as application/x-www-form-urlencoded")
        }
        do {
            return try URLEncodedForm.decode(String(buffer: buffer))
        } catch .controlCharacter(let name, let bad) {
            throw APIError.badRequest("\(name.map { "The field '\($0.prefix(64))'" } ?? "A field name") contains \(TextInput.name(bad))")
        } catch .repeated(let name) {
            throw APIError.badRequest("The field '\(name.prefix(64))' is given twice")
        }
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
}
