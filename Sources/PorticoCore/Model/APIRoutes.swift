import Foundation

/// An API whose "backend side" is a route table instead of a WebSocket endpoint (AWS API Gateway's
/// WebSocket routes, Yandex API Gateway's `x-yc-apigateway-websocket-*` operations): each client
/// message is matched to a route by the `routeSelectionExpression`, and the route's integration (an
/// HTTP call or a MOCK answer) handles it; `$connect` decides the handshake, `$disconnect` hears the
/// end. The JSON shape — REST, storage and gateway alike — is AWS's words (`docs/routes.md`).
package struct APIRoutes: Codable, Sendable, Equatable {
    /// `$request.body.<dotted.path>`; nil: every message takes `$default`.
    package var routeSelectionExpression: String?
    package var routes: [Route]

    package struct Route: Codable, Sendable, Equatable {
        package var routeKey: String
        /// Whether the integration's answer goes back to the client as a message.
        package var twoWay: Bool
        package var integration: Integration

        package init(routeKey: String, twoWay: Bool = false, integration: Integration) {
            self.routeKey = routeKey
            self.twoWay = twoWay
            self.integration = integration
        }

        enum CodingKeys: String, CodingKey { case routeKey, twoWay, integration }

        /// `twoWay` may be left out: false, as AWS's default.
        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            routeKey = try container.decode(String.self, forKey: .routeKey)
            twoWay = try container.decodeIfPresent(Bool.self, forKey: .twoWay) ?? false
            integration = try container.decode(Integration.self, forKey: .integration)
        }
    }

    package enum Kind: String, Codable, Sendable {
        case http = "HTTP"
        case mock = "MOCK"
    }

    /// An integration: the fields of its `type` are used, the others must be absent.
    package struct Integration: Codable, Sendable, Equatable {
        package var type: Kind
        // HTTP
        package var method: String?
        package var url: String?
        /// The whole call — connecting, sending, the answer — 50 ms to 29 s (AWS's bounds); default 29 s.
        package var timeoutMillis: Int?
        /// `integration.request.header.<name>` or `integration.request.querystring.<name>` → a source
        /// (`context.connectionId`, `route.request.body.a.b`, `'static'`, … see `Source`).
        package var requestParameters: [String: String]?
        // MOCK
        package var status: Int?
        package var headers: [String: String]?
        /// A template: `{context.connectionId}` and the other sources, and Yandex's
        /// `{X-Yc-Apigateway-Websocket-Connection-Id}` spelling, are replaced.
        package var body: String?

        package init(
            type: Kind,
            method: String? = nil,
            url: String? = nil,
            timeoutMillis: Int? = nil,
            requestParameters: [String: String]? = nil,
            status: Int? = nil,
            headers: [String: String]? = nil,
            body: String? = nil
        ) {
            self.type = type
            self.method = method
            self.url = url
            self.timeoutMillis = timeoutMillis
            self.requestParameters = requestParameters
            self.status = status
            self.headers = headers
            self.body = body
        }

        package var timeout: Int { timeoutMillis ?? APIRoutes.maxTimeoutMillis }
    }

    package init(routeSelectionExpression: String?, routes: [Route]) {
        self.routeSelectionExpression = routeSelectionExpression
        self.routes = routes
    }

    package static let connect = "$connect"
    package static let disconnect = "$disconnect"
    package static let fallback = "$default"
    package static let maxRoutes = 64
    package static let minTimeoutMillis = 50
    package static let maxTimeoutMillis = 29_000
    package static let maxTemplateBytes = 65_536
    package static let methods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    package func route(_ key: String) -> Route? { routes.first { $0.routeKey == key } }

    // MARK: - Validation

    /// The table, checked field by field (`routes[2].integration.url`, …), with methods upper-cased.
    package func validated() throws(FieldError) -> APIRoutes {
        var checked = self
        if let expression = routeSelectionExpression {
            guard Self.selectionPath(expression) != nil else {
                throw FieldError(
                    field: "routeSelectionExpression",
                    reason: "'\(expression.prefix(100))' is not $request.body.<path> (a dotted path of names into a JSON message)"
                )
            }
        }
        guard !routes.isEmpty else { throw FieldError(field: "routes", reason: "An API with routes needs at least one route") }
        guard routes.count <= Self.maxRoutes else { throw FieldError(field: "routes", reason: "At most \(Self.maxRoutes) routes") }
        var seen = Set<String>()
        for (index, route) in routes.enumerated() {
            let field = "routes[\(index)]"
            let key = route.routeKey
            guard !key.isEmpty, key.utf8.count <= 128, TextInput.firstControlCharacter(in: key) == nil else {
                throw FieldError(field: "\(field).routeKey", reason: "A route key is 1 to 128 characters, no control characters")
            }
            guard seen.insert(key).inserted else { throw FieldError(field: "\(field).routeKey", reason: "'\(key)' is given twice") }
            if key.hasPrefix("$"), ![Self.connect, Self.disconnect, Self.fallback].contains(key) {
                throw FieldError(field: "\(field).routeKey", reason: "'\(key)': the keys starting with $ are $connect, $disconnect and $default")
            }
            if route.twoWay, key == Self.connect || key == Self.disconnect {
                throw FieldError(
                    field: "\(field).twoWay",
                    reason: "\(key) cannot answer the client: \(key == Self.connect ? "its status decides the handshake" : "the connection is gone")"
                )
            }
            checked.routes[index].integration = try route.integration.validated(field: "\(field).integration", routeKey: key)
        }
        return checked
    }

    /// The dotted path of `$request.body.<path>`, or nil when the expression is not one.
    package static func selectionPath(_ expression: String) -> [String]? {
        let prefix = "$request.body."
        guard expression.hasPrefix(prefix) else { return nil }
        let path = expression.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !path.isEmpty, path.count <= 16, path.allSatisfy(Self.isName) else { return nil }
        return path
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128
            && text.utf8.allSatisfy { byte in
                byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || (byte >= 0x30 && byte <= 0x39)
                    || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
            }
    }

    // MARK: - Route selection

    /// The route a client message takes: the value at the selection path of a JSON text message
    /// (a string, or a number or boolean as written), else `$default`; a key without a route takes
    /// `$default` too. Nil when not even `$default` exists.
    package func select(text: String?) -> (route: Route, key: String)? {
        select(json: text.flatMap(Self.parse))
    }

    /// The same for a message already parsed (`parse`): the gateway parses each message once.
    package func select(json: PageValue?) -> (route: Route, key: String)? {
        if let json, let path = routeSelectionExpression.flatMap(Self.selectionPath), let key = Self.value(at: path, in: json),
            let route = route(key)
        {
            return (route, key)
        }
        return route(Self.fallback).map { ($0, Self.fallback) }
    }

    /// A text message as JSON when it is an object or an array (the only messages a path can
    /// select in); nil otherwise, without a parse for text that does not start like one.
    package static func parse(_ text: String) -> PageValue? {
        guard let first = text.utf8.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
            first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
        else { return nil }
        return try? JSONDecoder().decode(PageValue.self, from: Data(text.utf8))
    }

    /// The value at `path` in a JSON text, as text: a string as it is, a number or boolean as
    /// written; nil for anything else (not JSON, missing, an object, an array, null).
    package static func value(at path: [String], inJSON text: String) -> String? {
        parse(text).flatMap { value(at: path, in: $0) }
    }

    package static func value(at path: [String], in root: PageValue) -> String? {
        var current = root
        for name in path {
            guard let next = current[name] else { return nil }
            current = next
        }
        switch current {
        case .string(let string): return string
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number): return number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        default: return nil
        }
    }
}

extension APIRoutes.Integration {
    func validated(field: String, routeKey: String) throws(FieldError) -> APIRoutes.Integration {
        var checked = self
        switch type {
        case .http:
            guard status == nil, headers == nil, body == nil else {
                throw FieldError(
                    field: field,
                    reason: "An HTTP integration takes method, url, timeoutMillis and requestParameters, not status, headers or body"
                )
            }
            let method = (method ?? "POST").uppercased()
            guard APIRoutes.methods.contains(method) else {
                throw FieldError(
                    field: "\(field).method",
                    reason: "'\(method.prefix(20))' is not one of \(APIRoutes.methods.sorted().joined(separator: ", "))"
                )
            }
            checked.method = method
            guard let url, url.utf8.count <= 2048, let parts = URLComponents(string: url),
                ["http", "https"].contains(parts.scheme?.lowercased() ?? ""),
                parts.host?.isEmpty == false, parts.user == nil, parts.password == nil, parts.fragment == nil
            else {
                throw FieldError(field: "\(field).url", reason: "'\((url ?? "").prefix(200))' is not an http:// or https:// URL with a host")
            }
            let range = APIRoutes.minTimeoutMillis...APIRoutes.maxTimeoutMillis
            if let timeoutMillis, !range.contains(timeoutMillis) {
                throw FieldError(
                    field: "\(field).timeoutMillis",
                    reason: "Expected \(range.lowerBound) to \(range.upperBound) ms, not \(timeoutMillis)"
                )
            }
            for (target, source) in requestParameters ?? [:] {
                let name = "\(field).requestParameters.\(target.prefix(100))"
                guard RequestParameter.target(target) != nil else {
                    throw FieldError(
                        field: name,
                        reason: "The target is integration.request.header.<name> (not Host, Connection, Content-Type, Content-Length, "
                            + "Transfer-Encoding or X-Portico-*) or integration.request.querystring.<name>"
                    )
                }
                guard let parsed = RequestParameter.Source(source) else {
                    throw FieldError(field: name, reason: "'\(source.prefix(100))' is not a source (\(RequestParameter.Source.described))")
                }
                if let only = parsed.onlyOn, only != routeKey {
                    throw FieldError(field: name, reason: "'\(source.prefix(100))' is known on \(only) only")
                }
                if case .body = parsed, routeKey == APIRoutes.connect || routeKey == APIRoutes.disconnect {
                    throw FieldError(field: name, reason: "\(routeKey) has no message body")
                }
            }
        case .mock:
            guard method == nil, url == nil, timeoutMillis == nil, requestParameters == nil else {
                throw FieldError(field: field, reason: "A MOCK integration takes status, headers and body only")
            }
            let status = status ?? 200
            guard (100...599).contains(status) else { throw FieldError(field: "\(field).status", reason: "Expected 100 to 599, not \(status)") }
            checked.status = status
            for (name, value) in headers ?? [:] {
                guard RequestParameter.isHeaderName(name), value.utf8.count <= 4096, TextInput.firstControlCharacter(in: value) == nil else {
                    throw FieldError(
                        field: "\(field).headers",
                        reason: "'\(name.prefix(100))' is not a header name, or its value has a control character"
                    )
                }
            }
            if let body, body.utf8.count > APIRoutes.maxTemplateBytes {
                throw FieldError(field: "\(field).body", reason: "At most \(APIRoutes.maxTemplateBytes) bytes")
            }
        }
        return checked
    }
}

/// Where an integration's request parameter goes, and where its value comes from.
package enum RequestParameter {
    package enum Target: Equatable, Sendable {
        case header(String)
        case query(String)
    }

    /// Headers a mapping may not set: the request's own framing, and Portico's headers (a client
    /// must not be able to pass for another connection).
    static let reservedHeaders: Set<String> = [
        "host", "connection", "content-type", "content-length", "transfer-encoding", "upgrade", "te", "trailer",
    ]

    package static func target(_ text: String) -> Target? {
        if text.hasPrefix("integration.request.header.") {
            let name = String(text.dropFirst("integration.request.header.".count))
            let lower = name.lowercased()
            guard isHeaderName(name), !reservedHeaders.contains(lower), !lower.hasPrefix("x-portico-") else { return nil }
            return .header(name)
        }
        if text.hasPrefix("integration.request.querystring.") {
            let name = String(text.dropFirst("integration.request.querystring.".count))
            return !name.isEmpty && name.utf8.count <= 128 && TextInput.firstControlCharacter(in: name) == nil ? .query(name) : nil
        }
        return nil
    }

    /// RFC 9110's token characters.
    package static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
    }

    package enum Source: Equatable, Sendable {
        case connectionID, connectedAt, routeKey, messageID, requestID, sourceIP
        case claim(String)
        case body([String])
        case literal(String)
        case query(String)
        case header(String)

        /// The token's claims a mapping may read (`context.authorizer.<claim>`).
        package static let claims: Set<String> = ["sub", "applicationId", "applicationName", "clientId", "keyType"]

        static let described =
            "context.connectionId, context.connectedAt, context.routeKey, context.messageId, context.requestId, "
            + "context.identity.sourceIp, context.authorizer.<sub|applicationId|applicationName|clientId|keyType>, "
            + "route.request.body.<path>, 'static', and on $connect route.request.querystring.<name> and route.request.header.<name>"

        package init?(_ text: String) {
            switch text {
            case "context.connectionId": self = .connectionID
            case "context.connectedAt": self = .connectedAt
            case "context.routeKey": self = .routeKey
            case "context.messageId": self = .messageID
            case "context.requestId": self = .requestID
            case "context.identity.sourceIp": self = .sourceIP
            default:
                if text.hasPrefix("context.authorizer."), Self.claims.contains(String(text.dropFirst("context.authorizer.".count))) {
                    self = .claim(String(text.dropFirst("context.authorizer.".count)))
                } else if text.hasPrefix("route.request.body."),
                    let path = APIRoutes.selectionPath("$request.body." + text.dropFirst("route.request.body.".count))
                {
                    self = .body(path)
                } else if text.count >= 2, text.hasPrefix("'"), text.hasSuffix("'"), text.utf8.count <= 1024,
                    TextInput.firstControlCharacter(in: text) == nil
                {
                    self = .literal(String(text.dropFirst().dropLast()))
                } else if text.hasPrefix("route.request.querystring."), !text.dropFirst("route.request.querystring.".count).isEmpty {
                    self = .query(String(text.dropFirst("route.request.querystring.".count)))
                } else if text.hasPrefix("route.request.header."),
                    RequestParameter.isHeaderName(String(text.dropFirst("route.request.header.".count)))
                {
                    self = .header(String(text.dropFirst("route.request.header.".count)))
                } else {
                    return nil
                }
            }
        }

        /// The route a source is known on, when only one (AWS: the handshake's query and headers).
        var onlyOn: String? {
            switch self {
            case .query, .header: APIRoutes.connect
            default: nil
            }
        }
    }
}

/// What an integration's mappings and templates read: the connection, the event, the caller.
package struct IntegrationContext: Sendable {
    package var connectionID: String
    /// Milliseconds since 1970, as AWS's `connectedAt`.
    package var connectedAt: Int64
    package var routeKey: String
    package var messageID: String
    package var requestID: String
    package var sourceIP: String
    package var claims: [String: String]
    /// The handshake's query and headers ($connect).
    package var query: [(name: String, value: String)] = []
    package var headers: [(name: String, value: String)] = []
    /// The message ($default and the other message routes), when it is text.
    package var body: String? {
        didSet { json = body.flatMap(APIRoutes.parse) }
    }
    /// The message parsed once (`APIRoutes.parse`), when it is a JSON object or array.
    package private(set) var json: PageValue?

    package init(
        connectionID: String,
        connectedAt: Int64,
        routeKey: String,
        messageID: String,
        requestID: String,
        sourceIP: String,
        claims: [String: String]
    ) {
        self.connectionID = connectionID
        self.connectedAt = connectedAt
        self.routeKey = routeKey
        self.messageID = messageID
        self.requestID = requestID
        self.sourceIP = sourceIP
        self.claims = claims
    }

    /// A source's value here; nil when it has none (a missing query parameter, a body path absent).
    package func value(of source: RequestParameter.Source) -> String? {
        switch source {
        case .connectionID: connectionID
        case .connectedAt: String(connectedAt)
        case .routeKey: routeKey
        case .messageID: messageID
        case .requestID: requestID
        case .sourceIP: sourceIP
        case .claim(let name): claims[name]
        case .body(let path): json.flatMap { APIRoutes.value(at: path, in: $0) }
        case .literal(let text): text
        case .query(let name): query.first { $0.name == name }?.value
        case .header(let name): headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
    }

    /// Yandex's header spellings in a template, and what they stand for.
    static let yandexNames: [String: RequestParameter.Source] = [
        "X-Yc-Apigateway-Websocket-Connection-Id": .connectionID,
        "X-Yc-Apigateway-Websocket-Message-Id": .messageID,
        "X-Yc-Apigateway-Websocket-Connected-At": .connectedAt,
    ]

    /// A MOCK body: every `{source}` (or Yandex's `{X-Yc-Apigateway-Websocket-…}`) replaced by its
    /// value here, `{event type}` too; a placeholder that names nothing is left as written.
    package func render(_ template: String, eventType: String) -> String {
        var out = ""
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest.index(after: open)
            guard let close = rest[after...].firstIndex(of: "}") else {
                rest = rest[open...]
                break
            }
            let name = rest[after..<close]
            if name.contains("{") {
                // Not a placeholder (a JSON object's brace, say): kept, and the scan goes on after it.
                out += "{"
                rest = rest[after...]
                continue
            }
            if name == "X-Yc-Apigateway-Websocket-Event-Type" || name == "context.eventType" {
                out += eventType
            } else if let source = Self.yandexNames[String(name)] ?? RequestParameter.Source(String(name)), case let value? = value(of: source) {
                out += value
            } else {
                out += rest[open...close]
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
