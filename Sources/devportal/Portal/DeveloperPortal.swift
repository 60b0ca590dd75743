import Foundation
import Hummingbird
import PorticoCore

/// The developer portal at `/devportal`: the catalog, sign-up, an API's page with the tutorial's key
/// generation wizard and the live try-out console, and the developer's applications. Every page
/// reads and writes through the devportal's REST API as the signed-in developer (`RESTBridge`).
struct DeveloperPortal {
    let portal: Portal
    let probe: HandshakeProbe
    let signupEnabled: Bool
    static let api = "/api/am/devportal/v3"

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get(use: catalog)
            .get("signup", use: signUpPage)
            .post("signup", use: signUp)
            .get("apis/{apiId}", use: apiPage)
            .post("apis/{apiId}/wizard/application", use: wizardApplication)
            .post("apis/{apiId}/wizard/subscription", use: wizardSubscription)
            .post("apis/{apiId}/wizard/keys", use: wizardKeys)
            .post("apis/{apiId}/wizard/token", use: wizardToken)
            .post("apis/{apiId}/console/token", use: consoleToken)
            .post("apis/{apiId}/console/diagnosis", use: consoleDiagnosis)
            .get("applications", use: applications)
            .post("applications", use: createApplication)
            .get("applications/{applicationId}", use: application)
            .post("applications/{applicationId}", use: editApplication)
            .post("applications/{applicationId}/delete", use: deleteApplication)
            .post("applications/{applicationId}/keys", use: generateKeys)
            .post("applications/{applicationId}/keys/{keyMappingId}/secret", use: regenerateSecret)
            .post("applications/{applicationId}/keys/{keyMappingId}/token", use: generateToken)
            .post("applications/{applicationId}/subscriptions/{subscriptionId}/delete", use: unsubscribe)
    }

    var rest: RESTBridge { portal.rest }

    // MARK: - Catalog and accounts

    @Sendable func catalog(_ request: Request, context: Context) async throws -> Response {
        let search = request.uri.queryParameters["query"].map(String.init) ?? ""
        let query = search.isEmpty ? "" : "&query=\(queryValue(search))"
        let page = try await rest.require(.get, "\(Self.api)/apis?limit=100\(query)", context: context)
        return try portal.pages.render("catalog", ["apis": page["list"]?.rendered ?? [], "query": search], context: context)
    }

    @Sendable func signUpPage(_ request: Request, context: Context) async throws -> Response {
        guard signupEnabled else { throw SignupController.switchedOff }
        return try portal.pages.render("signup", [:], context: context)
    }

    /// Sign-up through the REST API, then signed in at once (the same checks as sign-in).
    @Sendable func signUp(_ request: Request, context: Context) async throws -> Response {
        let form = context.form
        let username = form["username"] ?? ""
        let password = form["password"] ?? ""
        let body: [String: PageValue] = [
            "username": .string(username), "password": .string(password),
            "email": form["email"].flatMap { $0.isEmpty ? nil : PageValue.string($0) } ?? .null,
        ]
        let answer = try await rest.call(.post, "\(Self.api)/signup", json: body, context: context)
        if let error = answer.error {
            var values = PageErrors.values(error)
            values["form"] = ["username": username, "email": form["email"] ?? ""]
            return try portal.pages.render("signup", values, context: context, status: error.status)
        }
        return try await portal.signIn(username: username, password: password, next: portal.path + "/", context: context)
    }

    // MARK: - An API's page: overview, wizard, console

    /// What the API page shows; `extra` carries a step's one-time result (a secret, a token).
    func apiPage(_ request: Request, context: Context, extra: [String: Any] = [:], applicationID chosen: String? = nil) async throws -> Response {
        let id = try context.segment("apiId")
        let api = try await rest.require(.get, "\(Self.api)/apis/\(id)", context: context)
        var values: [String: Any] = ["api": api.rendered, "apiId": id]
        let urls = api["endpointURLs"]?.array.first?["URLs"]
        let ws = urls?["ws"]?.string ?? ""
        let wss = urls?["wss"]?.string ?? ""
        values["tiers"] =
            api["tiers"]?.array.map { tier -> [String: Any] in
                var entry = tier.rendered as? [String: Any] ?? [:]
                entry["limit"] = PlanWording.limit(tier)
                return entry
            } ?? []
        let token = extra["token"] as? String
        values["commands"] = WscatCommands.list(ws: ws, wss: wss, token: token)
        values["hasToken"] = token != nil
        if let asyncAPI = try? await rest.require(.get, "\(Self.api)/apis/\(id)/asyncapi", context: context) {
            values["asyncapi"] = AsyncAPIView.values(asyncAPI)
        }
        if let notice = PageNotice.text(of: request) { values["notice"] = notice }
        if context.page?.session?.user.may(.subscriber) == true {
            values.merge(
                try await wizard(apiID: id, api: api, chosen: chosen ?? request.uri.queryParameters["application"].map(String.init), context: context)
            ) { $1 }
        }
        values.merge(extra) { $1 }
        return try portal.pages.render("api", values, context: context)
    }

    @Sendable func apiPage(_ request: Request, context: Context) async throws -> Response {
        try await apiPage(request, context: context, extra: [:])
    }

    /// The wizard's state for the chosen application: subscribed to this API? keys made?
    func wizard(apiID: String, api: PageValue, chosen: String?, context: Context) async throws -> [String: Any] {
        let apps = try await rest.require(.get, "\(Self.api)/applications?limit=100", context: context)["list"]?.array ?? []
        let selected = chosen.flatMap { id in apps.first { $0["applicationId"]?.string == id } } ?? (apps.count == 1 ? apps.first : nil)
        var values: [String: Any] = [
            "wizard": true,
            "applications": apps.map { app -> [String: Any] in
                var entry = app.rendered as? [String: Any] ?? [:]
                entry["selected"] = app["applicationId"] == selected?["applicationId"]
                return entry
            },
            "hasApplications": !apps.isEmpty,
            "plans": api["tiers"]?.array.map { ["name": $0["tierName"]?.string ?? ""] } ?? [],
        ]
        guard let selected, let appID = selected["applicationId"]?.string else { return values }
        let app = pathValue(appID)
        values["application"] = selected.rendered
        values["stepApplicationDone"] = true
        let subscriptions = try await rest.require(.get, "\(Self.api)/subscriptions?applicationId=\(app)", context: context)
        if let subscription = subscriptions["list"]?.array.first(where: { $0["apiId"]?.string == apiID }) {
            values["subscription"] = subscription.rendered
            values["stepSubscriptionDone"] = true
        }
        let keys = try await rest.require(.get, "\(Self.api)/applications/\(app)/oauth-keys", context: context)["list"]?.array ?? []
        if let production = keys.first(where: { $0["keyType"]?.string == "PRODUCTION" }) ?? keys.first {
            values["keys"] = production.rendered
            values["stepKeysDone"] = true
        }
        // The console lists the applications subscribed to this API.
        var subscribed: [[String: Any]] = []
        for candidate in apps {
            guard let candidateID = candidate["applicationId"]?.string else { continue }
            let list =
                candidateID == appID
                ? subscriptions : try await rest.require(.get, "\(Self.api)/subscriptions?applicationId=\(queryValue(candidateID))", context: context)
            if list["list"]?.array.contains(where: { $0["apiId"]?.string == apiID }) == true {
                subscribed.append(["applicationId": candidateID, "name": candidate["name"]?.string ?? "", "selected": candidateID == appID])
            }
        }
        values["consoleApplications"] = subscribed
        values["hasConsoleApplications"] = !subscribed.isEmpty
        return values
    }

    /// Step 1: create an application (or choose one).
    @Sendable func wizardApplication(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        let form = context.form
        if let chosen = form["applicationId"], !chosen.isEmpty {
            return Portal.redirect(to: "\(portal.path)/apis/\(id)?application=\(queryValue(chosen))#wizard")
        }
        let answer = try await rest.call(
            .post,
            "\(Self.api)/applications",
            json: ["name": .string(form["name"] ?? ""), "throttlingPolicy": "Unlimited", "description": .string(form["description"] ?? "")],
            context: context
        )
        if let error = answer.error {
            return try await apiPage(request, context: context, extra: PageErrors.values(error, step: "application"))
        }
        return Portal.redirect(to: "\(portal.path)/apis/\(id)?application=\(queryValue(answer.body["applicationId"]?.string ?? ""))#wizard")
    }

    /// Step 2: subscribe the application with a plan.
    @Sendable func wizardSubscription(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        let form = context.form
        let application = form["applicationId"] ?? ""
        let answer = try await rest.call(
            .post,
            "\(Self.api)/subscriptions",
            json: [
                "applicationId": .string(application), "apiId": .string(try context.parameters.require("apiId")),
                "throttlingPolicy": .string(form["plan"] ?? ""),
            ],
            context: context
        )
        if let error = answer.error {
            return try await apiPage(request, context: context, extra: PageErrors.values(error, step: "subscription"), applicationID: application)
        }
        return Portal.redirect(to: "\(portal.path)/apis/\(id)?application=\(queryValue(application))#wizard")
    }

    /// Step 3: production keys; the secret is on this page once, never again.
    @Sendable func wizardKeys(_ request: Request, context: Context) async throws -> Response {
        let form = context.form
        let application = form["applicationId"] ?? ""
        let answer = try await rest.call(
            .post,
            "\(Self.api)/applications/\(pathValue(application))/generate-keys",
            json: ["keyType": "PRODUCTION", "grantTypesToBeSupported": .array(["client_credentials"])],
            context: context
        )
        if let error = answer.error {
            return try await apiPage(request, context: context, extra: PageErrors.values(error, step: "keys"), applicationID: application)
        }
        return try await apiPage(request, context: context, extra: ["secret": answer.body.rendered], applicationID: application)
    }

    /// Step 4: a token for those keys, with the secret just shown; step 5 is copying it.
    @Sendable func wizardToken(_ request: Request, context: Context) async throws -> Response {
        let form = context.form
        let application = form["applicationId"] ?? ""
        let answer = try await rest.call(
            .post,
            "\(Self.api)/applications/\(pathValue(application))/oauth-keys/\(pathValue(form["keyMappingId"] ?? ""))/generate-token",
            json: [
                "consumerSecret": .string(form["consumerSecret"] ?? ""), "validityPeriod": .number(Double(Int(form["validityPeriod"] ?? "") ?? 3600)),
            ],
            context: context
        )
        if let error = answer.error {
            return try await apiPage(request, context: context, extra: PageErrors.values(error, step: "token"), applicationID: application)
        }
        let token = answer.body["accessToken"]?.string ?? ""
        return try await apiPage(
            request,
            context: context,
            extra: ["token": token, "tokenValidity": answer.body["validityTime"]?.int ?? 0, "stepTokenDone": true],
            applicationID: application
        )
    }

    /// The console's short-lived token and the URLs to use it on (JSON, for `console.js`).
    @Sendable func consoleToken(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        let form = context.form
        let api = try await rest.require(.get, "\(Self.api)/apis/\(id)", context: context)
        let answer = try await rest.call(
            .post,
            "\(Self.api)/applications/\(pathValue(form["application"] ?? ""))/try-out-token",
            json: ["keyType": .string(form["keyType"] ?? "PRODUCTION")],
            context: context
        )
        guard answer.succeeded else { return try PageJSON.response(answer.body, status: answer.status) }
        let urls = api["endpointURLs"]?.array.first?["URLs"]
        return try PageJSON.response(
            .object([
                "accessToken": answer.body["accessToken"] ?? .null, "validityTime": answer.body["validityTime"] ?? .null,
                "url": urls?["ws"] ?? .null, "secureURL": urls?["wss"] ?? .null,
            ]),
            status: .ok
        )
    }

    /// Why the gateway refused the console's handshake: the portal repeats it and reports the
    /// status and reason (a browser's WebSocket API cannot see them).
    @Sendable func consoleDiagnosis(_ request: Request, context: Context) async throws -> Response {
        _ = try context.requireAny([.subscriber], to: "use the try-out console")
        let id = try context.segment("apiId")
        let api = try await rest.require(.get, "\(Self.api)/apis/\(id)", context: context)
        let path = "\(api["context"]?.string ?? "")/\(api["version"]?.string ?? "")"
        let token = context.form["accessToken"] ?? ""
        let outcome = await probe.handshake(path: path, accessToken: token, origin: request.headers[.origin])
        return try PageJSON.response(.object(["status": .number(Double(outcome.status)), "reason": .string(outcome.reason)]), status: .ok)
    }

    // MARK: - Applications

    @Sendable func applications(_ request: Request, context: Context) async throws -> Response {
        try await applicationsPage(form: [:], error: nil, context: context)
    }

    func applicationsPage(form: [String: String], error: RESTRefusal?, context: Context) async throws -> Response {
        let list = try await rest.require(.get, "\(Self.api)/applications?limit=100", context: context)
        var values: [String: Any] = ["applications": list["list"]?.rendered ?? [], "form": form]
        if let error { values.merge(PageErrors.values(error)) { $1 } }
        return try portal.pages.render("applications", values, context: context, status: error?.status ?? .ok)
    }

    @Sendable func createApplication(_ request: Request, context: Context) async throws -> Response {
        let form = context.form
        let answer = try await rest.call(
            .post,
            "\(Self.api)/applications",
            json: ["name": .string(form["name"] ?? ""), "throttlingPolicy": "Unlimited", "description": .string(form["description"] ?? "")],
            context: context
        )
        if let error = answer.error { return try await applicationsPage(form: form, error: error, context: context) }
        return Portal.redirect(to: "\(portal.path)/applications/\(pathValue(answer.body["applicationId"]?.string ?? ""))")
    }

    func applicationPage(_ request: Request, context: Context, extra: [String: Any] = [:]) async throws -> Response {
        let id = try context.segment("applicationId")
        let app = try await rest.require(.get, "\(Self.api)/applications/\(id)", context: context)
        var values: [String: Any] = ["application": app.rendered, "applicationId": id]
        values["keys"] = try await rest.require(.get, "\(Self.api)/applications/\(id)/oauth-keys", context: context)["list"]?.rendered ?? []
        values["subscriptions"] =
            try await rest.require(.get, "\(Self.api)/subscriptions?applicationId=\(id)", context: context)["list"]?.rendered ?? []
        let usage = try await rest.require(.get, "\(Self.api)/applications/\(id)/usage?granularity=hour", context: context)
        values["chart"] = UsageChart.bars(usage)
        if let notice = PageNotice.text(of: request) { values["notice"] = notice }
        values.merge(extra) { $1 }
        return try portal.pages.render("application", values, context: context, status: (extra["status"] as? HTTPResponse.Status) ?? .ok)
    }

    @Sendable func application(_ request: Request, context: Context) async throws -> Response {
        try await applicationPage(request, context: context)
    }

    @Sendable func editApplication(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("applicationId")
        let form = context.form
        let answer = try await rest.call(
            .put,
            "\(Self.api)/applications/\(id)",
            json: ["name": .string(form["name"] ?? ""), "description": .string(form["description"] ?? "")],
            context: context
        )
        if let error = answer.error {
            var extra = PageErrors.values(error)
            extra["status"] = error.status
            return try await applicationPage(request, context: context, extra: extra)
        }
        return Portal.redirect(to: "\(portal.path)/applications/\(id)\(PageNotice.saved.query)")
    }

    @Sendable func deleteApplication(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("applicationId")
        let answer = try await rest.call(.delete, "\(Self.api)/applications/\(id)", context: context)
        if let error = answer.error { throw error }
        return Portal.redirect(to: "\(portal.path)/applications")
    }

    @Sendable func generateKeys(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("applicationId")
        let keyType = context.form["keyType"] == "SANDBOX" ? "SANDBOX" : "PRODUCTION"
        let answer = try await rest.call(
            .post,
            "\(Self.api)/applications/\(id)/generate-keys",
            json: ["keyType": .string(keyType), "grantTypesToBeSupported": .array(["client_credentials"])],
            context: context
        )
        if let error = answer.error { throw error }
        return try await applicationPage(request, context: context, extra: ["secret": answer.body.rendered])
    }

    @Sendable func regenerateSecret(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("applicationId")
        let key = try context.segment("keyMappingId")
        let answer = try await rest.call(.post, "\(Self.api)/applications/\(id)/oauth-keys/\(key)/regenerate-secret", context: context)
        if let error = answer.error { throw error }
        var secret = answer.body.rendered as? [String: Any] ?? [:]
        secret["keyMappingId"] = try context.parameters.require("keyMappingId")
        return try await applicationPage(request, context: context, extra: ["secret": secret])
    }

    @Sendable func generateToken(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("applicationId")
        let key = try context.segment("keyMappingId")
        let form = context.form
        let answer = try await rest.call(
            .post,
            "\(Self.api)/applications/\(id)/oauth-keys/\(key)/generate-token",
            json: [
                "consumerSecret": .string(form["consumerSecret"] ?? ""), "validityPeriod": .number(Double(Int(form["validityPeriod"] ?? "") ?? 3600)),
            ],
            context: context
        )
        if let error = answer.error {
            var extra = PageErrors.values(error)
            extra["status"] = error.status
            return try await applicationPage(request, context: context, extra: extra)
        }
        return try await applicationPage(request, context: context, extra: ["token": answer.body.rendered])
    }

    @Sendable func unsubscribe(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("applicationId")
        let subscription = try context.segment("subscriptionId")
        let answer = try await rest.call(.delete, "\(Self.api)/subscriptions/\(subscription)", context: context)
        if let error = answer.error { throw error }
        return Portal.redirect(to: "\(portal.path)/applications/\(id)\(PageNotice.unsubscribed.query)")
    }
}
