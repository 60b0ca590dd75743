import Foundation
import Hummingbird
import NIOCore
import PorticoCore

/// `/apis/{apiId}/connections`: who is connected to an API now, on every gateway, and — for its
/// providers, with their usual credentials — a message to one of them or its close. The call is
/// carried to the gateway holding the connection through PostgreSQL (`ConnectionCallStore`), as a
/// gateway's own management API carries it, and answered as that gateway answers.
struct ConnectionsController {
    let apis: APIStore
    let cluster: ClusterStateStore
    let calls: ConnectionCallStore

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get("{apiId}/connections", use: list)
            .post("{apiId}/connections/{connectionId}/messages", use: message)
            .delete("{apiId}/connections/{connectionId}", use: disconnect)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> CountedList<LiveConnection> {
        _ = try context.requireAny([.creator, .publisher], to: "list an API's connections")
        let api = try await APIsController.find(context.parameters.require("apiId"), in: apis)
        let live = try await cluster.liveConnections(apiID: api.id, freshness: ClusterStateStore.nodeFreshness)
        return CountedList(live)
    }

    /// The raw body is one message to the client: text when it is `text/*` or `application/json`
    /// and UTF-8, binary otherwise; at most 128 KiB.
    @Sendable func message(_ request: Request, context: Context) async throws -> Response {
        let call = try await prepare(.send, context: context, to: "send messages to an API's connections")
        let limit = ConnectionCall.maxMessageBytes
        let body = try await request.collectBody(
            atMost: limit,
            tooLarge: APIError(.contentTooLarge, "Payload Too Large", "A message is at most \(limit) bytes")
        )
        var sending = call
        sending.message = Array(body.readableBytesView)
        sending.binary = !ConnectionCall.isText(contentType: request.headers[.contentType], body: body.readableBytesView)
        return try await carry(sending)
    }

    /// Closes the client with 1000, or `?code=` (4000–4999) and `?reason=`.
    @Sendable func disconnect(_ request: Request, context: Context) async throws -> Response {
        var call = try await prepare(.disconnect, context: context, to: "close an API's connections")
        let query = request.uri.queryParameters
        if let raw = query["code"] {
            guard let code = Int(raw), ConnectionCall.isAllowedCloseCode(code) else {
                throw APIError.invalidParameter("code", "Expected 1000 or 4000 to 4999")
            }
            call.closeCode = code
        }
        let reason = query["reason"].map(String.init) ?? "closed by the API's provider"
        guard reason.utf8.count <= ConnectionCall.maxReasonBytes else {
            throw APIError.invalidParameter("reason", "At most \(ConnectionCall.maxReasonBytes) bytes of UTF-8")
        }
        call.closeReason = reason
        return try await carry(call)
    }

    /// The call for the connection named by the path, addressed to the gateway holding it.
    private func prepare(_ action: ConnectionCall.Action, context: Context, to what: String) async throws -> ConnectionCall {
        let user = try context.requireAny([.creator, .publisher], to: what)
        let api = try await APIsController.find(context.parameters.require("apiId"), in: apis)
        let id = try context.parameters.require("connectionId")
        guard let node = try await calls.node(of: id, freshness: ClusterStateStore.nodeFreshness) else {
            throw APIError(.gone, "Gone", "No open connection has this id: it ended, or never was")
        }
        return ConnectionCall(
            targetNode: node,
            originNode: "publisher",
            connectionID: id.lowercased(),
            action: action,
            shape: "aws",
            keyID: "user:\(user.username)",
            apiID: api.id
        )
    }

    private func carry(_ call: ConnectionCall) async throws -> Response {
        guard let answer = try await calls.call(call) else {
            throw APIError(.serviceUnavailable, "Service Unavailable", "The gateway holding the connection did not answer in time; retry")
        }
        var headers: HTTPFields = [:]
        if !answer.body.isEmpty { headers[.contentType] = "application/json" }
        return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
    }
}
