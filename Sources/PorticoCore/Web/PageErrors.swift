import Foundation
import Hummingbird

/// A REST refusal as a form shows it: the message at the top, and the description next to the
/// field the REST API named, in the REST API's own words.
package enum PageErrors {
    /// `step` names the part of a page (a wizard step) the error belongs to.
    package static func values(_ error: RESTRefusal, step: String? = nil) -> [String: Any] {
        var values: [String: Any] = ["error": ["message": error.message, "description": error.description]]
        if let field = error.field { values["fieldError"] = [formField(field): error.description] }
        if let step { values["stepError"] = [step: "\(error.message): \(error.description)"] }
        return values
    }

    /// The form field a REST field names (`endpointConfig.production_endpoints.url` is `production`,
    /// `limits.maxMessageBytes` is `maxMessageBytes`).
    static func formField(_ restField: String) -> String {
        if restField.contains("production") { return "production" }
        if restField.contains("sandbox") { return "sandbox" }
        if restField == "policies" { return "plans" }
        return restField.split(separator: ".").last.map(String.init) ?? restField
    }
}

/// A JSON answer of a page (for its script), with the portal's headers added by `PortalMiddleware`.
package enum PageJSON {
    package static func response(_ value: PageValue, status: HTTPResponse.Status) throws -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value)))
        )
    }
}
