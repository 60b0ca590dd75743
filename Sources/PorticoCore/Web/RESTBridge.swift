import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// The portals' one path to the data: a page reads and changes things by calling the service's own
/// REST API in process, as the signed-in user, through the same router, middleware, handlers,
/// stores and role checks a REST client gets. So a page can never show or change what the REST API
/// would refuse to that user, and it shows a refusal in the REST API's own words.
package struct RESTBridge: Sendable {
    let responder: any HTTPResponder<PorticoRequestContext>

    /// `router` holds the REST routes only (no pages, no request metrics: the page's own request is
    /// the one counted).
    package init(router: Router<PorticoRequestContext>) {
        responder = router.buildResponder()
    }

    /// What a REST call answered: its status and its JSON body, decoded into plain values a template
    /// can render (`PageValue`).
    package struct Answer: Sendable {
        package let status: HTTPResponse.Status
        package let body: PageValue
        package let headers: HTTPFields

        package var succeeded: Bool { (200..<300).contains(status.code) }
        /// The REST error's `{code, message, description}`, for a refusal.
        package var error: RESTRefusal? { succeeded ? nil : RESTRefusal(status: status, body: body) }
    }

    /// Calls `method path` (with its query) as `context.user`, with `json` as the body.
    package func call(
        _ method: HTTPRequest.Method,
        _ path: String,
        json: [String: PageValue]? = nil,
        headers extra: HTTPFields = [:],
        context: PorticoRequestContext
    ) async throws -> Answer {
        var headers = extra
        var body = RequestBody(buffer: ByteBuffer())
        if let json {
            let data = try JSONEncoder().encode(PageValue.object(json))
            headers[.contentType] = "application/json"
            body = RequestBody(buffer: ByteBuffer(bytes: data))
        }
        let head = HTTPRequest(method: method, scheme: "http", authority: "localhost", path: path, headerFields: headers)
        let response = try await responder.respond(to: Request(head: head, body: body), context: context)
        let writer = CollectingWriter()
        try await response.body.write(writer)
        let collected = writer.collected
        let value =
            collected.readableBytes == 0 ? PageValue.null : (try? JSONDecoder().decode(PageValue.self, from: Data(buffer: collected))) ?? .null
        return Answer(status: response.status, body: value, headers: response.headers)
    }

    /// Like `call`, but a refusal is thrown (`RESTRefusal`), for pages that cannot go on without it.
    package func require(
        _ method: HTTPRequest.Method,
        _ path: String,
        json: [String: PageValue]? = nil,
        context: PorticoRequestContext
    ) async throws -> PageValue {
        let answer = try await call(method, path, json: json, context: context)
        if let error = answer.error { throw error }
        return answer.body
    }
}

/// A refusal of the REST API, carried to a page: its status and its `{code, message, description}`.
package struct RESTRefusal: Error, Sendable {
    package let status: HTTPResponse.Status
    package let message: String
    package let description: String

    init(status: HTTPResponse.Status, body: PageValue) {
        self.status = status
        message = body["message"]?.string ?? status.reasonPhrase
        description = body["description"]?.string ?? ""
    }

    /// The field a 400 names (`Invalid value for field 'name'`), so that a form shows it there.
    package var field: String? {
        for prefix in ["Invalid value for field '", "Invalid value for query parameter '"] where message.hasPrefix(prefix) {
            return message.dropFirst(prefix.count).split(separator: "'").first.map(String.init)
        }
        return nil
    }
}

/// Collects a response body written in process.
final class CollectingWriter: ResponseBodyWriter, Sendable {
    private let buffer = Mutex(ByteBuffer())
    var collected: ByteBuffer { buffer.withLock { $0 } }

    func write(_ part: ByteBuffer) async throws {
        buffer.withLock { collected in
            var part = part
            collected.writeBuffer(&part)
        }
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
