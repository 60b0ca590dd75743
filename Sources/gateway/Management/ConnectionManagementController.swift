import Foundation
import Hummingbird
import NIOCore
import PorticoCore

/// The connection management API: an API's backend reads, messages and closes the API's client
/// connections, in AWS API Gateway's shape (`/{context}/{version}/@connections/{id}`) or Yandex
/// API Gateway's (`/apigateways/websocket/v1/connections/{id}`, `…/{id}:send`). Every call carries
/// one of the API's connection keys. Errors are `{code, message, description}` with AWS's
/// exception name as the message: 400 BadRequestException, 401 UnauthorizedException, 403
/// ForbiddenException, 404 NotFoundException, 410 GoneException, 413 PayloadTooLargeException,
/// 429 LimitExceededException, 503 ServiceUnavailableException.
struct ConnectionManagementController {
    let gateway: Gateway
    let keys: ConnectionKeyCheck

    static let maxMessageBytes = ConnectionCall.maxMessageBytes
    static let yandexPrefix = "/apigateways/websocket/v1/connections/"

    var endpoints: RouteCollection<PorticoRequestContext> {
        RouteCollection(context: PorticoRequestContext.self)
            .get("**", use: handle)
            .post("**", use: handle)
            .delete("**", use: handle)
    }

    enum Shape: String, Sendable { case aws, yandex }
    typealias Action = ConnectionCall.Action

    /// A call, from its method and path alone.
    struct Call: Equatable, Sendable {
        let shape: Shape
        let action: Action
        let connectionID: String
        /// AWS's: the `/{context}/{version}` the call was made under.
        var apiPath: String?
    }

    /// Yandex's `send` body: the message in base64, and whether it is text.
    struct YandexMessage: Decodable {
        let data: String?
        let type: String?
    }

    // MARK: The call

    /// Answers a call. What is refused before a connection is looked at (a path, a key, a body) is
    /// counted here; what is done to a connection, where it is done (`ConnectionOperations`).
    @Sendable func handle(_ request: Request, context: PorticoRequestContext) async throws -> Response {
        let call: Call
        do {
            call = try Self.parse(method: request.method, path: request.uri.path)
        } catch let error as APIError {
            gateway.metrics.managementCall(action: "unknown", status: error.status.code)
            throw error
        }
        do {
            return try await respond(call, request, context: context)
        } catch let error as APIError {
            gateway.metrics.managementCall(action: call.action.rawValue, status: error.status.code)
            throw error
        }
    }

    private func respond(_ call: Call, _ request: Request, context: PorticoRequestContext) async throws -> Response {
        guard let table = gateway.snapshot.current else {
            throw Self.error(.serviceUnavailable, "ServiceUnavailableException", "The gateway has not loaded its catalog yet; retry shortly")
        }
        let key: (id: String, apiID: String)
        switch try await keys.check(
            authorization: request.headers[.authorization],
            keys: table.connectionKeys,
            address: context.clientAddress ?? "unknown"
        ) {
        case .key(let id, let apiID):
            key = (id, apiID)
        case .missing, .invalid:
            throw APIError(
                .unauthorized,
                "UnauthorizedException",
                "Present one of the API's connection keys: Authorization: Bearer pck_…",
                headers: [.wwwAuthenticate: "Bearer realm=\"portico-connections\""]
            )
        case .lockedOut(let wait):
            throw APIError(
                .tooManyRequests,
                "LimitExceededException",
                "Too many failed authentications from this address; retry in \(wait) s",
                headers: [.retryAfter: "\(wait)"]
            )
        }
        if let apiPath = call.apiPath {
            let match = table.match(path: apiPath)
            let refusal: APIError? =
                if let match, match.rest.isEmpty {
                    match.api.id == key.apiID ? nil : Self.error(.forbidden, "ForbiddenException", "This connection key is not one of this API's")
                } else {
                    Self.error(.notFound, "NotFoundException", "No API is served at this path")
                }
            if let refusal {
                // A key holder trying another API's path: audited like any call on a connection.
                gateway.log.management(
                    action: call.action.rawValue,
                    shape: call.shape.rawValue,
                    keyID: key.id,
                    connectionID: call.connectionID,
                    apiID: key.apiID,
                    status: refusal.status.code
                )
                throw refusal
            }
        }
        // Read and checked here, at the edge, wherever the connection is.
        let operation: ConnectionOperations.Operation
        switch call.action {
        case .get: operation = .get
        case .send:
            let (payload, binary) = try await message(of: request, shape: call.shape)
            operation = .send(payload, binary: binary)
        case .disconnect:
            let (code, reason) = try Self.closing(request.uri.queryParameters, shape: call.shape)
            operation = .disconnect(code, reason: reason)
        }
        let caller = ConnectionOperations.Caller(shape: call.shape, keyID: key.id, apiID: key.apiID)
        let answer: ConnectionCall.Answer
        if let node = try await gateway.calls.locate(call.connectionID, syncInterval: gateway.settings.clusterSyncIntervalMs) {
            answer = try await gateway.calls.forward(operation, on: call.connectionID, to: node, for: caller)
        } else {
            answer = await gateway.calls.operations.execute(operation, on: call.connectionID, for: caller)
        }
        var headers: HTTPFields = [:]
        if !answer.body.isEmpty { headers[.contentType] = "application/json" }
        return Response(
            status: HTTPResponse.Status(code: answer.status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: answer.body))
        )
    }

    static func error(_ status: HTTPResponse.Status, _ name: String, _ description: String) -> APIError {
        APIError(status, name, description)
    }

    // MARK: Reading the request

    /// The call a method and path make, or a 404 (405 for a known path and another method).
    static func parse(method: HTTPRequest.Method, path: String) throws -> Call {
        let notFound = error(
            .notFound,
            "NotFoundException",
            "Not a connection management path: /{context}/{version}/@connections/{id} or \(yandexPrefix){id}"
        )
        if path.hasPrefix(yandexPrefix) {
            var rest = Substring(path.dropFirst(yandexPrefix.count))
            let sends = rest.hasSuffix(":send")
            if sends { rest = rest.dropLast(":send".count) }
            let id = try connectionID(rest)
            switch (method, sends) {
            case (.get, false): return Call(shape: .yandex, action: .get, connectionID: id)
            case (.delete, false): return Call(shape: .yandex, action: .disconnect, connectionID: id)
            case (.post, true): return Call(shape: .yandex, action: .send, connectionID: id)
            default: throw error(.methodNotAllowed, "MethodNotAllowedException", "GET or DELETE …/{id}, POST …/{id}:send")
            }
        }
        // `@` may arrive percent-encoded.
        let normalized = path.replacingOccurrences(of: "%40", with: "@", options: .caseInsensitive)
        guard let marker = normalized.range(of: "/@connections/") else { throw notFound }
        let apiPath = String(normalized[..<marker.lowerBound])
        let id = try connectionID(normalized[marker.upperBound...])
        guard apiPath.count > 1 else { throw notFound }
        let action: Action
        switch method {
        case .get: action = .get
        case .post: action = .send
        case .delete: action = .disconnect
        default: throw error(.methodNotAllowed, "MethodNotAllowedException", "GET, POST or DELETE")
        }
        return Call(shape: .aws, action: action, connectionID: id, apiPath: apiPath)
    }

    /// A connection id as the gateway makes them: at most 50 URL-safe characters.
    static func connectionID(_ raw: Substring) throws -> String {
        guard (1...50).contains(raw.utf8.count),
            raw.utf8.allSatisfy({ byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "_"):
                    true
                default: false
                }
            })
        else {
            throw error(.badRequest, "BadRequestException", "A connection id is 1 to 50 letters, digits, '-' or '_'")
        }
        return raw.lowercased()
    }

    /// The message to push: AWS's raw body (text when its type is text/* or application/json and it
    /// is UTF-8), or Yandex's `{"data": base64, "type": "TEXT"|"BINARY"}`.
    func message(of request: Request, shape: Shape) async throws -> (ByteBuffer, binary: Bool) {
        let tooLarge = Self.error(.contentTooLarge, "PayloadTooLargeException", "A message is at most \(Self.maxMessageBytes) bytes")
        // Yandex's base64 takes 4 bytes per 3, plus the JSON around it.
        let limit = shape == .aws ? Self.maxMessageBytes : Self.maxMessageBytes / 3 * 4 + 1024
        let body = try await request.collectBody(atMost: limit, tooLarge: tooLarge)
        switch shape {
        case .aws:
            return (body, !ConnectionCall.isText(contentType: request.headers[.contentType], body: body.readableBytesView))
        case .yandex:
            guard let message = try? JSONDecoder().decode(YandexMessage.self, from: Data(body.readableBytesView)) else {
                throw Self.error(.badRequest, "BadRequestException", "The body must be JSON: {\"data\": base64, \"type\": \"TEXT\"|\"BINARY\"}")
            }
            guard let encoded = message.data, let data = Data(base64Encoded: encoded) else {
                throw Self.error(.badRequest, "BadRequestException", "'data' must be the message in base64")
            }
            guard data.count <= Self.maxMessageBytes else { throw tooLarge }
            switch message.type?.uppercased() ?? "TEXT" {
            case "TEXT":
                guard String(data: data, encoding: .utf8) != nil else {
                    throw Self.error(.badRequest, "BadRequestException", "A TEXT message must be UTF-8; send it as BINARY")
                }
                return (ByteBuffer(data: data), false)
            case "BINARY":
                return (ByteBuffer(data: data), true)
            default:
                throw Self.error(.badRequest, "BadRequestException", "'type' is TEXT or BINARY")
            }
        }
    }

    /// The close a disconnect asks for: AWS's `?code=` (1000 or 4000–4999) and `?reason=` (at
    /// most 123 bytes of UTF-8); Yandex's is always 1000.
    static func closing(_ query: Parameters, shape: Shape) throws -> (GatewayCloseCode, String) {
        guard shape == .aws else { return (.normalClosure, "disconnected by the API") }
        var code = GatewayCloseCode.normalClosure
        if let raw = query["code"] {
            guard let number = Int(raw), let requested = GatewayCloseCode.requested(number) else {
                throw error(.badRequest, "BadRequestException", "'code' is 1000 or 4000 to 4999")
            }
            code = requested
        }
        let reason = query["reason"].map(String.init) ?? "disconnected by the API"
        guard reason.utf8.count <= ConnectionCall.maxReasonBytes else {
            throw error(.badRequest, "BadRequestException", "'reason' is at most 123 bytes of UTF-8")
        }
        return (code, reason)
    }
}
