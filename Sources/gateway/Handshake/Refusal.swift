import NIOHTTP1

/// Why a handshake is refused: the HTTP status, a machine-readable code and a sentence. Sent as
/// JSON `{code, message}`; 401s carry `WWW-Authenticate: Bearer … error="invalid_token"`.
struct Refusal: Error, Sendable, Equatable {
    let status: HTTPResponseStatus
    let code: String
    let message: String
    var extraHeaders: [(String, String)] = []

    static func == (a: Refusal, b: Refusal) -> Bool { a.status == b.status && a.code == b.code && a.message == b.message }

    static func unauthorized(_ code: String, _ message: String) -> Refusal {
        let escaped = message.replacingOccurrences(of: "\"", with: "'")
        return Refusal(status: .unauthorized, code: code, message: message, extraHeaders: [
            ("WWW-Authenticate", "Bearer realm=\"portico\", error=\"invalid_token\", error_description=\"\(escaped)\""),
        ])
    }

    static func forbidden(_ code: String, _ message: String) -> Refusal {
        Refusal(status: .forbidden, code: code, message: message)
    }

    static let notFound = Refusal(status: .notFound, code: "not_found", message: "No API is served at this path")
}
