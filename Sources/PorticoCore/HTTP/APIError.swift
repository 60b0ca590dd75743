import Foundation
import Hummingbird

/// The one error shape of every Portico REST API: `{code, message, description}` with the HTTP status.
///
/// `code` is the HTTP status code, `message` a short title, `description` says what was wrong and,
/// where it helps, what to do.
package struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    package let status: HTTPResponse.Status
    package let message: String
    package let detail: String
    package var headers: HTTPFields

    package init(_ status: HTTPResponse.Status, _ message: String, _ detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers
    }

    package var description: String { "\(status.code) \(message): \(detail)" }

    struct Body: Codable {
        let code: Int
        let message: String
        let description: String
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        try jsonResponse(Body(code: status.code, message: message, description: detail), status: status, headers: headers)
    }

    package static func badRequest(_ detail: String, message: String = "Bad Request") -> APIError {
        APIError(.badRequest, message, detail)
    }

    /// A 400 that names the field at fault.
    package static func invalidField(_ field: String, _ detail: String) -> APIError {
        APIError(.badRequest, "Invalid value for field '\(field)'", detail)
    }

    package static func invalidParameter(_ name: String, _ detail: String) -> APIError {
        APIError(.badRequest, "Invalid value for query parameter '\(name)'", detail)
    }

    package static func unauthorized(_ detail: String) -> APIError {
        APIError(
            .unauthorized,
            "Unauthorized",
            detail,
            headers: [.wwwAuthenticate: "Basic realm=\"portico\", charset=\"UTF-8\""]
        )
    }

    package static func forbidden(_ detail: String) -> APIError {
        APIError(.forbidden, "Forbidden", detail)
    }

    package static func notFound(_ detail: String) -> APIError {
        APIError(.notFound, "Not Found", detail)
    }

    package static func conflict(_ detail: String) -> APIError {
        APIError(.conflict, "Conflict", detail)
    }

    package static func preconditionFailed(_ detail: String) -> APIError {
        APIError(.preconditionFailed, "Precondition Failed", detail)
    }
}
