import Foundation
import Hummingbird

/// The one error shape of every Portico REST API: `{code, message, description}` with the HTTP status.
///
/// `code` is the HTTP status code, `message` a short title, `description` says what was wrong and,
/// where it helps, what to do.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    public let detail: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, _ detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers
    }

    public var description: String { "\(status.code) \(message): \(detail)" }

    struct Body: Codable {
        let code: Int
        let message: String
        let description: String
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try jsonResponse(Body(code: status.code, message: message, description: detail), status: status, headers: headers)
    }

    public static func badRequest(_ detail: String, message: String = "Bad Request") -> APIError {
        APIError(.badRequest, message, detail)
    }

    /// A 400 that names the field at fault.
    public static func invalidField(_ field: String, _ detail: String) -> APIError {
        APIError(.badRequest, "Invalid value for field '\(field)'", detail)
    }

    public static func invalidParameter(_ name: String, _ detail: String) -> APIError {
        APIError(.badRequest, "Invalid value for query parameter '\(name)'", detail)
    }

    public static func unauthorized(_ detail: String) -> APIError {
        APIError(.unauthorized, "Unauthorized", detail,
                 headers: [.wwwAuthenticate: "Basic realm=\"portico\", charset=\"UTF-8\""])
    }

    public static func forbidden(_ detail: String) -> APIError {
        APIError(.forbidden, "Forbidden", detail)
    }

    public static func notFound(_ detail: String) -> APIError {
        APIError(.notFound, "Not Found", detail)
    }

    public static func conflict(_ detail: String) -> APIError {
        APIError(.conflict, "Conflict", detail)
    }

    public static func preconditionFailed(_ detail: String) -> APIError {
        APIError(.preconditionFailed, "Precondition Failed", detail)
    }
}
