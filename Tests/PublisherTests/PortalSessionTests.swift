import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import PostgresNIO
import Testing

@testable import publisher

/// The portals' sessions and their guards, on the publisher console (the devportal shares the
/// code: `PorticoCore/Web`): a session in PostgreSQL behind an `HttpOnly`, `SameSite=Lax` cookie of
/// the portal's own name and path, CSRF on every state-changing request, idle expiry, sign-out,
/// no redirect off the portal, and pages that refuse what the REST API refuses, in its words.
@Suite struct PortalSessionTests {
    /// A browser: its cookies, and the CSRF token of the last page it read.
    struct Browser {
        let client: RESTClient
        var cookies: [String: String] = [:]
        var csrf = ""

        init(_ client: RESTClient) { self.client = client.signedIn(nil) }

        mutating func send(_ method: HTTPRequest.Method, _ path: String, form: String? = nil) async throws -> Reply {
            var headers: HTTPFields = [:]
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            let reply = try await client.send(method, path, form: form ?? (method == .post ? "" : nil), headers: headers)
            for line in reply.headers[values: .setCookie] {
                let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                let value = pair.count > 1 ? String(pair[1]) : ""
                cookies[String(pair[0])] = value.isEmpty ? nil : value
            }
            if let range = reply.text.range(of: #"name="csrf" value="([^"]*)""#, options: .regularExpression) {
                csrf = String(reply.text[range].dropFirst(#"name="csrf" value=""#.count).dropLast())
            }
            return reply
        }

        mutating func signIn(_ username: String, _ password: String) async throws -> Reply {
            _ = try await send(.get, "/publisher/signin")
            return try await send(.post, "/publisher/signin", form: "csrf=\(csrf)&username=\(username)&password=\(password)&next=/publisher/apis")
        }
    }

    @Test func signingInBeginsASessionKeptInPostgreSQL() async throws {
        try await PublisherHarness.runWithDatabase { client, database in
            var browser = Browser(client)
            let reply = try await browser.signIn("admin", TestSettings.adminPassword)
            #expect(reply.status == .seeOther)
            #expect(reply.headers[.location] == "/publisher/apis")
            let cookie = try #require(reply.headers[values: .setCookie].first { $0.hasPrefix("portico_publisher_session=") })
            for attribute in ["HttpOnly", "SameSite=Lax", "Path=/publisher"] { #expect(cookie.contains(attribute), "\(cookie)") }
            #expect(cookie.contains("Secure"), "Secure unless in development mode")
            let value = try #require(browser.cookies["portico_publisher_session"])
            // Only the cookie's hash is stored.
            var stored: [Data] = []
            for try await hash in try await database.client.query("SELECT id_hash FROM web_sessions", logger: TestDatabase.logger).decode(Data.self) {
                stored.append(hash)
            }
            #expect(stored.count == 1)
            #expect(stored.first != Data(value.utf8))
            let page = try await browser.send(.get, "/publisher/apis")
            #expect(page.status == .ok)
            #expect(page.text.contains("id=\"signed-in-user\">admin<"))
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
        }
    }

    @Test func aWrongPasswordIsRefusedWithTheRESTAPIsWords() async throws {
        try await PublisherHarness.run { client in
            var browser = Browser(client)
            let reply = try await browser.signIn("admin", "wrong")
            #expect(reply.status == .unauthorized)
            #expect(reply.text.contains("Unknown user or wrong password"))
            #expect(browser.cookies["portico_publisher_session"] == nil)
        }
    }

    @Test func aStateChangeWithoutItsCSRFTokenIsRefused() async throws {
        try await PublisherHarness.run { client in
            var browser = Browser(client)
            _ = try await browser.signIn("admin", TestSettings.adminPassword)
            let form = "name=Sneaky&context=/sneaky&version=1"
            #expect(try await browser.send(.post, "/publisher/apis", form: form).status == .forbidden)
            #expect(try await browser.send(.post, "/publisher/apis", form: form + "&csrf=not-the-token").status == .forbidden)
            #expect(try await client.send(.get, "apis").json["count"].int == 0, "nothing was created")
            // Sign-in itself needs the anonymous token: no login CSRF.
            var stranger = Browser(client)
            let forged = try await stranger.send(.post, "/publisher/signin", form: "username=admin&password=\(TestSettings.adminPassword)")
            #expect(forged.status == .forbidden)
            #expect(try await browser.send(.post, "/publisher/apis", form: form + "&csrf=\(browser.csrf)").status == .seeOther)
        }
    }

    @Test func signingOutOrIdlingEndsTheSession() async throws {
        try await PublisherHarness.runWithDatabase { client, database in
            var browser = Browser(client)
            _ = try await browser.signIn("admin", TestSettings.adminPassword)
            let session = browser.cookies
            _ = try await browser.send(.get, "/publisher/apis")
            #expect(try await browser.send(.post, "/publisher/signout", form: "csrf=\(browser.csrf)").status == .seeOther)
            var replay = Browser(client)
            replay.cookies = session
            #expect(try await replay.send(.get, "/publisher/apis").headers[.location] == "/publisher/signin?next=/publisher/apis")

            var idle = Browser(client)
            _ = try await idle.signIn("admin", TestSettings.adminPassword)
            #expect(try await idle.send(.get, "/publisher/apis").status == .ok)
            try await database.client.query("UPDATE web_sessions SET last_seen_at = now() - interval '2 hours'", logger: TestDatabase.logger)
            #expect(try await idle.send(.get, "/publisher/apis").status == .seeOther)
        }
    }

    @Test func signInSendsTheBrowserNowhereButThisPortal() async throws {
        try await PublisherHarness.run { client in
            for next in ["//evil.example/x", "https://evil.example/", "/devportal/", "/publisher\\@evil", "/api/am/publisher/v4/apis"] {
                var browser = Browser(client)
                _ = try await browser.send(.get, "/publisher/signin")
                let reply = try await browser.send(
                    .post,
                    "/publisher/signin",
                    form: "csrf=\(browser.csrf)&username=admin&password=\(TestSettings.adminPassword)&next=\(queryValue(next))"
                )
                #expect(reply.headers[.location] == "/publisher/", "next=\(next)")
            }
        }
    }

    @Test func aPageRefusesWhatTheRESTAPIRefusesToTheSameUser() async throws {
        try await PublisherHarness.run { client in
            _ = try await client.user("sub1", roles: ["subscriber"])
            var browser = Browser(client)
            _ = try await browser.signIn("sub1", RESTClient.userPassword)
            let page = try await browser.send(.get, "/publisher/apis")
            #expect(page.status == .forbidden)
            #expect(page.text.contains("needs the &#39;creator&#39; or &#39;publisher&#39; role to list APIs"))
            #expect(try await browser.send(.get, "/publisher/admin/users").status == .forbidden)
        }
    }

    @Test func whatUsersTypeIsEscaped() async throws {
        try await PublisherHarness.run { client in
            let id = try await client.createAPI(["name": "<script>alert(1)</script>", "context": "/xss"]).id
            var browser = Browser(client)
            _ = try await browser.signIn("admin", TestSettings.adminPassword)
            for path in ["/publisher/apis", "/publisher/apis/\(id)"] {
                let page = try await browser.send(.get, path)
                #expect(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "\(path)")
                #expect(!page.text.contains("<script>alert"), "\(path)")
            }
        }
    }
}
