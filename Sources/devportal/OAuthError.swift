import Hummingbird
import PorticoCore

/// An OAuth2 error response (RFC 6749 §5.2): `{error, error_description}`.
struct OAuthError: Error, OwnErrorVocabulary {
    let status: HTTPResponse.Status
    let error: String
    let errorDescription: String
    let headers: HTTPFields

    init(_ status: HTTPResponse.Status, _ error: String, _ description: String, headers: HTTPFields = [:]) {
        self.status = status
        self.error = error
        self.errorDescription = description
        self.headers = headers
    }

    static func invalidClient(_ description: String) -> OAuthError {
        OAuthError(.unauthorized, "invalid_client", description, headers: [.wwwAuthenticate: "Basic realm=\"portico\""])
    }

    struct Body: Encodable {
        let error: String
        let error_description: String
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers.append(contentsOf: OAuth2Controller.noStore)
        return try jsonResponse(Body(error: error, error_description: errorDescription), status: status, headers: headers)
    }
}
