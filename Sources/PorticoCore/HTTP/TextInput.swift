import Foundation
import Hummingbird

/// The one rule for text that comes from outside — JSON strings and keys, query parameters, the
/// path, form fields, Basic credentials: no control characters. NUL (which PostgreSQL refuses in
/// text) and the other C0 controls, DEL and the C1 controls are refused; tab, line feed and
/// carriage return are allowed, since descriptions may span lines (a field that must be one line
/// is checked by its own validation, as names are).
public enum TextInput {
    /// The first control character in `text`, if any.
    public static func firstControlCharacter(in text: some StringProtocol) -> Unicode.Scalar? {
        text.unicodeScalars.first(where: isRefused)
    }

    public static func isRefused(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: false
        case 0x00...0x1F, 0x7F...0x9F: true
        default: false
        }
    }

    /// `U+0000`, as an error message names a character that cannot be shown.
    public static func name(_ scalar: Unicode.Scalar) -> String {
        "U+" + String(format: "%04X", scalar.value)
    }

    /// The sentence an error gives for a refused character.
    public static func problem(_ scalar: Unicode.Scalar) -> String {
        "The text contains the control character \(name(scalar)), which Portico does not accept in any text"
    }

    /// Checks every string and key of a decoded JSON document; the error names the field, as a
    /// decoding error does (`endpointConfig.production_endpoints.url`, `policies[1]`).
    static func check(json: Any, path: String = "") throws(APIError) {
        switch json {
        case let text as String:
            if let bad = firstControlCharacter(in: text) { throw .invalidField(path.isEmpty ? "(body)" : path, problem(bad)) }
        case let object as [String: Any]:
            for (key, value) in object {
                let field = path.isEmpty ? key : "\(path).\(key)"
                // The member name itself is not quoted back: it is what holds the character.
                if let bad = firstControlCharacter(in: key) { throw .invalidField(path.isEmpty ? "(a member name)" : "\(path) (a member name)", problem(bad)) }
                try check(json: value, path: field)
            }
        case let array as [Any]:
            for (index, value) in array.enumerated() { try check(json: value, path: "\(path)[\(index)]") }
        default:
            break
        }
    }
}

/// Refuses a request whose path or query carries a control character (percent-encoded or not)
/// with a 400 that names the parameter, before any route — and so any store — sees it.
public struct TextInputMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if let bad = TextInput.firstControlCharacter(in: path.removingPercentEncoding ?? path) {
            throw APIError.badRequest(TextInput.problem(bad), message: "Invalid path")
        }
        // Hummingbird decodes the values; names are decoded here.
        for (rawName, value) in request.uri.queryParameters {
            let name = String(rawName).removingPercentEncoding ?? String(rawName)
            if let bad = TextInput.firstControlCharacter(in: name) {
                throw APIError.badRequest(TextInput.problem(bad), message: "Invalid query parameter name")
            }
            if let bad = TextInput.firstControlCharacter(in: value) {
                throw APIError.invalidParameter(String(name.prefix(64)), TextInput.problem(bad))
            }
        }
        return try await next(request, context)
    }
}
