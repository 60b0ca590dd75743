import Foundation
import Hummingbird
import PorticoCore

/// The publisher console at `/publisher`: the tutorial's API Publisher, page by page. Every page
/// reads and writes through the publisher's REST API as the signed-in user (`RESTBridge`), so a
/// page shows and does exactly what that user's REST calls would.
struct PublisherConsole {
    let portal: Portal
    static let api = "/api/am/publisher/v4"

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get(use: home)
            .get("apis", use: list)
            .get("apis/new", use: newAPI)
            .post("apis", use: create)
            .get("apis/{apiId}", use: overview)
            .post("apis/{apiId}", use: updateDesign)
            .get("apis/{apiId}/design", use: design)
            .get("apis/{apiId}/endpoint", use: endpoint)
            .post("apis/{apiId}/endpoint", use: updateEndpoint)
            .get("apis/{apiId}/lifecycle", use: lifecycle)
            .post("apis/{apiId}/lifecycle", use: changeLifecycle)
            .post("apis/{apiId}/versions", use: newVersion)
            .post("apis/{apiId}/delete", use: delete)
            .get("apis/{apiId}/subscriptions", use: subscriptions)
            .post("apis/{apiId}/subscriptions", use: blockSubscription)
            .get("apis/{apiId}/connections", use: connections)
            .post("apis/{apiId}/connections/{connectionId}/close", use: disconnect)
            .get("apis/{apiId}/usage", use: usage)
            .get("admin/plans", use: plans)
            .post("admin/plans", use: createPlan)
            .post("admin/plans/{planId}/delete", use: deletePlan)
            .get("admin/users", use: users)
            .post("admin/users", use: createUser)
    }

    var rest: RESTBridge { portal.rest }

    @Sendable func home(_ request: Request, context: Context) async throws -> Response {
        Portal.redirect(to: "/publisher/apis")
    }

    // MARK: - APIs

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let search = request.uri.queryParameters["query"].map(String.init) ?? ""
        let query = search.isEmpty ? "" : "&query=\(queryValue(search))"
        let page = try await rest.require(.get, "\(Self.api)/apis?limit=100\(query)", context: context)
        return try portal.pages.render(
            "apis",
            ["apis": page["list"]?.rendered ?? [], "count": page["count"]?.int ?? 0, "query": search],
            context: context
        )
    }

    @Sendable func newAPI(_ request: Request, context: Context) async throws -> Response {
        try await createForm([:], error: nil, context: context)
    }

    /// The create form, with what was entered and the field the REST API refused.
    func createForm(_ form: [String: String], error: RESTRefusal?, context: Context) async throws -> Response {
        let plans = try await rest.require(.get, "\(Self.api)/throttling-policies/streaming/subscription", context: context)
        let chosen = Set(form.keys.filter { $0.hasPrefix("plan.") }.map { String($0.dropFirst(5)) })
        var values: [String: Any] = [
            "form": form,
            "plans": plans["list"]?.array.map { plan -> [String: Any] in
                let name = plan["name"]?.string ?? ""
                return ["name": name, "description": plan["description"]?.string ?? "", "checked": chosen.contains(name)]
            } ?? [],
        ]
        if let error { values.merge(PageErrors.values(error)) { $1 } }
        return try portal.pages.render("api-new", values, context: context, status: error.map(\.status) ?? .ok)
    }

    /// **Create**, or **Create & Publish** (the `publish` button): the API is created, then published
    /// by the same lifecycle call the REST API takes; a refusal of either is shown on the form.
    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let form = context.form
        var body: [String: PageValue] = [
            "name": .string(form["name"] ?? ""), "context": .string(form["context"] ?? ""), "version": .string(form["version"] ?? ""),
            "description": .string(form["description"] ?? ""),
            "policies": .array(form.keys.filter { $0.hasPrefix("plan.") }.sorted().map { .string(String($0.dropFirst(5))) }),
        ]
        body["endpointConfig"] = Self.endpointConfig(form)
        let created = try await rest.call(.post, "\(Self.api)/apis", json: body, context: context)
        if let error = created.error { return try await createForm(form, error: error, context: context) }
        let id = created.body["id"]?.string ?? ""
        if form["publish"] != nil {
            let published = try await rest.call(
                .post,
                "\(Self.api)/apis/change-lifecycle?apiId=\(queryValue(id))&action=Publish",
                context: context
            )
            if let error = published.error {
                context.logger.info("created, not published", metadata: ["api": "\(id)", "reason": "\(error.description.prefix(200))"])
                return Portal.redirect(to: "/publisher/apis/\(pathValue(id))\(PageNotice.createdNotPublished.query)")
            }
        }
        return Portal.redirect(to: "/publisher/apis/\(pathValue(id))")
    }

    static func endpointConfig(_ form: [String: String]) -> PageValue {
        func endpoint(_ field: String) -> PageValue {
            guard let url = form[field], !url.isEmpty else { return .null }
            return .object(["url": .string(url)])
        }
        return .object(["endpoint_type": "ws", "production_endpoints": endpoint("production"), "sandbox_endpoints": endpoint("sandbox")])
    }

    /// The API and what every page of it shows: its URLs over ws and wss, its tabs.
    func apiValues(_ id: String, tab: String, request: Request, context: Context) async throws -> [String: Any] {
        let api = try await rest.require(.get, "\(Self.api)/apis/\(id)", context: context)
        let contextPath = api["context"]?.string ?? ""
        let version = api["version"]?.string ?? ""
        var urls = [["label": "ws", "url": portal.gateway.urls(path: "\(contextPath)/\(version)").ws]]
        urls.append(["label": "wss", "url": portal.gateway.urls(path: "\(contextPath)/\(version)").wss])
        if api["isDefaultVersion"] == .bool(true) {
            urls.append(["label": "ws (default version)", "url": portal.gateway.urls(path: contextPath).ws])
            urls.append(["label": "wss (default version)", "url": portal.gateway.urls(path: contextPath).wss])
        }
        let tabs = [
            "overview": "Overview", "design": "Design", "endpoint": "Endpoint", "lifecycle": "Lifecycle",
            "subscriptions": "Subscriptions", "connections": "Connections", "usage": "Usage",
        ]
        let order = ["overview", "design", "endpoint", "lifecycle", "subscriptions", "connections", "usage"]
        var values: [String: Any] = [
            "api": api.rendered, "apiId": id, "urls": urls, "hasRoutes": !(api["routes"]?.array.isEmpty ?? true),
            "tabs": order.map { ["path": $0 == "overview" ? "" : "/\($0)", "label": tabs[$0]!, "current": $0 == tab] },
        ]
        if let notice = PageNotice.text(of: request) { values["notice"] = notice }
        return values
    }

    @Sendable func overview(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        return try portal.pages.render("api-overview", try await apiValues(id, tab: "overview", request: request, context: context), context: context)
    }

    @Sendable func design(_ request: Request, context: Context) async throws -> Response {
        try await designPage(form: nil, error: nil, request: request, context: context)
    }

    func designPage(form: [String: String]?, error: RESTRefusal?, request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        var values = try await apiValues(id, tab: "design", request: request, context: context)
        let api = values["api"] as? [String: Any] ?? [:]
        let current = Set((api["policies"] as? [Any] ?? []).compactMap { $0 as? String })
        let plans = try await rest.require(.get, "\(Self.api)/throttling-policies/streaming/subscription", context: context)
        values["plans"] =
            plans["list"]?.array.map { plan -> [String: Any] in
                let name = plan["name"]?.string ?? ""
                let checked = form.map { $0["plan.\(name)"] != nil } ?? current.contains(name)
                return ["name": name, "description": plan["description"]?.string ?? "", "checked": checked]
            } ?? []
        if let form { values["form"] = form }
        if let error { values.merge(PageErrors.values(error)) { $1 } }
        return try portal.pages.render("api-design", values, context: context, status: error.map(\.status) ?? .ok)
    }

    /// Design: name, description, plans and limits, through `PUT /apis/{id}` (fields left empty
    /// keep no limit).
    @Sendable func updateDesign(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        let form = context.form
        func number(_ field: String) -> PageValue {
            guard let text = form[field]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return .null }
            return Int(text).map { .number(Double($0)) } ?? .string(text)
        }
        let origins = (form["allowedOrigins"] ?? "").split(whereSeparator: { $0 == "\n" || $0 == "," || $0 == " " || $0 == "\r" })
        let body: [String: PageValue] = [
            "name": .string(form["name"] ?? ""),
            "description": .string(form["description"] ?? ""),
            "policies": .array(form.keys.filter { $0.hasPrefix("plan.") }.sorted().map { .string(String($0.dropFirst(5))) }),
            "isDefaultVersion": .bool(form["isDefaultVersion"] != nil),
            "limits": .object([
                "maxMessageBytes": number("maxMessageBytes"), "idleTimeoutSeconds": number("idleTimeoutSeconds"),
                "maxLifetimeSeconds": number("maxLifetimeSeconds"), "allowedOrigins": .array(origins.map { .string(String($0)) }),
            ]),
        ]
        let answer = try await rest.call(.put, "\(Self.api)/apis/\(id)", json: body, context: context)
        if let error = answer.error { return try await designPage(form: form, error: error, request: request, context: context) }
        return Portal.redirect(to: "/publisher/apis/\(id)/design\(PageNotice.saved.query)")
    }

    @Sendable func endpoint(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        return try portal.pages.render("api-endpoint", try await apiValues(id, tab: "endpoint", request: request, context: context), context: context)
    }

    /// Endpoint with its advanced configuration (connect timeout, suspension, CA file).
    @Sendable func updateEndpoint(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        let form = context.form
        func number(_ field: String) -> PageValue {
            guard let text = form[field]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return .null }
            return Double(text).map(PageValue.number) ?? .string(text)
        }
        guard case .object(var config) = Self.endpointConfig(form) else { return Portal.redirect(to: "/publisher/apis/\(id)/endpoint") }
        config["ca_file"] = form["caFile"].flatMap { $0.isEmpty ? nil : PageValue.string($0) } ?? .null
        config["config"] = .object([
            "actionDuration": number("actionDuration"), "retryTimeOut": number("retryTimeOut"),
            "suspendDuration": number("suspendDuration"), "suspendMaxDuration": number("suspendMaxDuration"), "factor": number("factor"),
        ])
        let answer = try await rest.call(.put, "\(Self.api)/apis/\(id)", json: ["endpointConfig": .object(config)], context: context)
        if let error = answer.error {
            var values = try await apiValues(id, tab: "endpoint", request: request, context: context)
            values["form"] = form
            values.merge(PageErrors.values(error)) { $1 }
            return try portal.pages.render("api-endpoint", values, context: context, status: error.status)
        }
        return Portal.redirect(to: "/publisher/apis/\(id)/endpoint\(PageNotice.endpointSaved.query)")
    }

    @Sendable func lifecycle(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        var values = try await apiValues(id, tab: "lifecycle", request: request, context: context)
        values["state"] = try await rest.require(.get, "\(Self.api)/apis/\(id)/lifecycle-state", context: context).rendered
        values["history"] = try await rest.require(.get, "\(Self.api)/apis/\(id)/lifecycle-history", context: context)["list"]?.rendered ?? []
        return try portal.pages.render("api-lifecycle", values, context: context)
    }

    @Sendable func changeLifecycle(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        let action = context.form["action"] ?? ""
        let answer = try await rest.call(
            .post,
            "\(Self.api)/apis/change-lifecycle?apiId=\(id)&action=\(queryValue(action))",
            context: context
        )
        if let error = answer.error { throw error }
        return Portal.redirect(to: "/publisher/apis/\(id)/lifecycle\(PageNotice.lifecycleChanged.query)")
    }

    /// Versions: a copy of this API as a new version (optionally the default).
    @Sendable func newVersion(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        let form = context.form
        let makeDefault = form["defaultVersion"] != nil
        let answer = try await rest.call(
            .post,
            "\(Self.api)/apis/copy-api?apiId=\(id)&newVersion=\(queryValue(form["newVersion"] ?? ""))&defaultVersion=\(makeDefault)",
            context: context
        )
        if let error = answer.error {
            throw error
        }
        return Portal.redirect(to: "/publisher/apis/\(pathValue(answer.body["id"]?.string ?? ""))")
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        let answer = try await rest.call(.delete, "\(Self.api)/apis/\(id)", context: context)
        if let error = answer.error { throw error }
        return Portal.redirect(to: "/publisher/apis")
    }

    // MARK: - Subscriptions, connections, usage

    @Sendable func subscriptions(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        var values = try await apiValues(id, tab: "subscriptions", request: request, context: context)
        let list = try await rest.require(.get, "\(Self.api)/subscriptions?apiId=\(id)&limit=100", context: context)
        values["subscriptions"] =
            list["list"]?.array.map { item -> Any in
                var entry = item.rendered as? [String: Any] ?? [:]
                let status = item["subscriptionStatus"]?.string ?? ""
                entry["isBlocked"] = status != "UNBLOCKED"
                entry["isUnblocked"] = status == "UNBLOCKED"
                entry["isProdBlocked"] = status == "PROD_ONLY_BLOCKED"
                return entry
            } ?? []
        return try portal.pages.render("api-subscriptions", values, context: context)
    }

    /// Block, block production only, or unblock one subscription.
    @Sendable func blockSubscription(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        let form = context.form
        let subscription = queryValue(form["subscriptionId"] ?? "")
        let path: String
        switch form["blockState"] {
        case "UNBLOCKED": path = "\(Self.api)/subscriptions/unblock-subscription?subscriptionId=\(subscription)"
        case let state?: path = "\(Self.api)/subscriptions/block-subscription?subscriptionId=\(subscription)&blockState=\(queryValue(state))"
        case nil: throw APIError.invalidField("blockState", "The field is required")
        }
        let answer = try await rest.call(.post, path, context: context)
        if let error = answer.error { throw error }
        return Portal.redirect(to: "/publisher/apis/\(id)/subscriptions\(PageNotice.subscriptionChanged.query)")
    }

    @Sendable func connections(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        var values = try await apiValues(id, tab: "connections", request: request, context: context)
        values["connections"] = try await rest.require(.get, "\(Self.api)/apis/\(id)/connections", context: context)["list"]?.rendered ?? []
        return try portal.pages.render("api-connections", values, context: context)
    }

    /// Disconnect a live connection (close code 4000 unless the form says otherwise).
    @Sendable func disconnect(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        let connection = try context.segment("connectionId")
        let reason = context.form["reason"].flatMap { $0.isEmpty ? nil : $0 } ?? "closed by the API's provider"
        let answer = try await rest.call(
            .delete,
            "\(Self.api)/apis/\(id)/connections/\(connection)?code=4000&reason=\(queryValue(reason))",
            context: context
        )
        if let error = answer.error { throw error }
        return Portal.redirect(to: "/publisher/apis/\(id)/connections\(PageNotice.connectionClosed.query)")
    }

    @Sendable func usage(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("apiId")
        var values = try await apiValues(id, tab: "usage", request: request, context: context)
        let granularity = request.uri.queryParameters["granularity"] == "minute" ? "minute" : "hour"
        let report = try await rest.require(.get, "\(Self.api)/apis/\(id)/usage?granularity=\(granularity)", context: context)
        values["chart"] = UsageChart.bars(report)
        values["byMinute"] = granularity == "minute"
        return try portal.pages.render("api-usage", values, context: context)
    }

    // MARK: - Admin

    @Sendable func plans(_ request: Request, context: Context) async throws -> Response {
        try await plansPage(form: [:], error: nil, context: context)
    }

    func plansPage(form: [String: String], error: RESTRefusal?, context: Context) async throws -> Response {
        let plans = try await rest.require(.get, "/api/am/admin/v4/throttling-policies/subscription", context: context)
        var values: [String: Any] = ["plans": plans["list"]?.rendered ?? [], "form": form]
        if let error { values.merge(PageErrors.values(error)) { $1 } }
        return try portal.pages.render("admin-plans", values, context: context, status: error.map(\.status) ?? .ok)
    }

    @Sendable func createPlan(_ request: Request, context: Context) async throws -> Response {
        let form = context.form
        let count = Int(form["eventCount"] ?? "")
        var body: [String: PageValue] = [
            "policyName": .string(form["policyName"] ?? ""), "displayName": .string(form["policyName"] ?? ""),
            "description": .string(form["description"] ?? ""),
        ]
        if let count {
            body["defaultLimit"] = .object([
                "type": "EVENTCOUNTLIMIT",
                "eventCount": .object(["eventCount": .number(Double(count)), "timeUnit": .string(form["timeUnit"] ?? "min"), "unitTime": 1]),
            ])
        }
        let answer = try await rest.call(.post, "/api/am/admin/v4/throttling-policies/subscription", json: body, context: context)
        if let error = answer.error { return try await plansPage(form: form, error: error, context: context) }
        return Portal.redirect(to: "/publisher/admin/plans")
    }

    @Sendable func deletePlan(_ request: Request, context: Context) async throws -> Response {
        let id = try context.segment("planId")
        let answer = try await rest.call(.delete, "/api/am/admin/v4/throttling-policies/subscription/\(id)", context: context)
        if let error = answer.error { return try await plansPage(form: [:], error: error, context: context) }
        return Portal.redirect(to: "/publisher/admin/plans")
    }

    @Sendable func users(_ request: Request, context: Context) async throws -> Response {
        try await usersPage(form: [:], error: nil, context: context)
    }

    func usersPage(form: [String: String], error: RESTRefusal?, context: Context) async throws -> Response {
        let users = try await rest.require(.get, "/api/am/admin/v4/users", context: context)
        var values: [String: Any] = ["users": users["list"]?.rendered ?? [], "form": form]
        if let error { values.merge(PageErrors.values(error)) { $1 } }
        return try portal.pages.render("admin-users", values, context: context, status: error.map(\.status) ?? .ok)
    }

    @Sendable func createUser(_ request: Request, context: Context) async throws -> Response {
        let form = context.form
        let roles = ["admin", "creator", "publisher", "subscriber"].filter { form["role.\($0)"] != nil }
        let body: [String: PageValue] = [
            "username": .string(form["username"] ?? ""), "password": .string(form["password"] ?? ""),
            "email": form["email"].flatMap { $0.isEmpty ? nil : PageValue.string($0) } ?? .null,
            "roles": .array(roles.map(PageValue.string)),
        ]
        let answer = try await rest.call(.post, "/api/am/admin/v4/users", json: body, context: context)
        var kept = form
        kept["password"] = nil
        if let error = answer.error { return try await usersPage(form: kept, error: error, context: context) }
        return Portal.redirect(to: "/publisher/admin/users")
    }
}
