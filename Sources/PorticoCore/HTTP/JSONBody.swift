import Foundation
import Hummingbird
import NIOCore

extension Request {
    /// Decodes a JSON request body of at most the context's `maxUploadSize` bytes, answering each
    /// way it can be wrong with its own status: 415 (not JSON), 413 (too large), 400 (empty,
    /// malformed, a field of the wrong type, or any string or key with a control character — the
    /// field is named).
    package func decodeJSON<T: Decodable>(_ type: T.Type, context: PorticoRequestContext) async throws -> T {
        let limit = context.maxUploadSize
        let contentType = headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard let contentType, contentType == "application/json" || contentType.hasSuffix("+json") else {
            throw APIError(
                .unsupportedMediaType,
                "Unsupported Media Type",
                "The request body must be JSON; send Content-Type: application/json"
            )
        }
        let buffer = try await collectBody(
            atMost: limit,
            tooLarge: APIError(.contentTooLarge, "Payload Too Large", "The request body is larger than \(limit) bytes")
        )
        guard buffer.readableBytes > 0 else {
            throw APIError.badRequest("The request body is empty; expected a JSON object")
        }
        let data = Data(buffer.readableBytesView)
        let value: T
        do {
            value = try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw APIError.describing(error)
        }
        // Every text in the document, whether this type reads it or not: nothing with a control
        // character reaches a store (TextInput). The bytes are scanned; only a body that has one is
        // parsed again, to name the field (a repeated member name may hide it from the tree).
        if let bad = TextInput.firstControlCharacter(inJSON: data) {
            try TextInput.check(json: try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
            throw APIError.badRequest(TextInput.problem(bad) + " (in a repeated member)", message: "Invalid JSON text")
        }
        return value
    }
}

extension Request {
    /// The whole body, at most `limit` bytes: `tooLarge` when it says it is longer
    /// (`Content-Length`) or turns out to be, before more than `limit` bytes are read.
    package func collectBody(atMost limit: Int, tooLarge: APIError) async throws -> ByteBuffer {
        if let length = headers[.contentLength].flatMap(Int.init), length > limit { throw tooLarge }
        var request = self
        do {
            return try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
    }
}

extension APIError {
    /// A 400 that says where a JSON document does not fit the expected shape.
    static func describing(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            let underlying = context.underlyingError as NSError?
            let cause = (underlying?.userInfo[NSDebugDescriptionErrorKey] as? String) ?? underlying?.localizedDescription
            return .badRequest("The request body is not valid JSON" + (cause.map { ": \($0)" } ?? ""), message: "Malformed JSON")
        case .dataCorrupted(let context):
            return .invalidField(path(context.codingPath), context.debugDescription)
        case .keyNotFound(let key, let context):
            return .invalidField(path(context.codingPath + [key]), "The field is required")
        case .valueNotFound(_, let context):
            return .invalidField(path(context.codingPath), "The field must not be null")
        case .typeMismatch(let type, let context):
            return .invalidField(path(context.codingPath), "Expected \(jsonTypeName(type))")
        @unknown default:
            return .badRequest("The request body does not have the expected shape")
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Double.Type: "a number"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

/// How every JSON answer is written (`PorticoRequestContext.responseEncoder`): one `JSONEncoder`,
/// configured once (ISO 8601 dates, sorted keys, slashes as they are) rather than made per
/// response — `JSONEncoder` is safe to share across threads — and `Content-Type: application/json`.
/// Handlers return typed values (`ResponseEncodable`, in an `EditedResponse` for a status or
/// headers); the router encodes them with this.
package struct JSONResponseEncoder: ResponseEncoder, Sendable {
    package static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    package init() {}

    package func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        try jsonResponse(value)
    }
}

/// A JSON response with the status and headers given, for what answers outside a handler's return
/// value (errors, the gateway's admin endpoints).
package func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
    var headers = headers
    headers[.contentType] = "application/json"
    let body = ByteBuffer(bytes: try JSONResponseEncoder.encoder.encode(value))
    return Response(status: status, headers: headers, body: .init(byteBuffer: body))
}
