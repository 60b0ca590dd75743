import Foundation
import Hummingbird

/// The one rule for text that comes from outside — JSON strings and keys, query parameters, the
/// path, form fields, Basic credentials: no control characters. NUL (which PostgreSQL refuses in
/// text) and the other C0 controls, DEL and the C1 controls are refused; tab, line feed and
/// carriage return are allowed, since descriptions may span lines (a field that must be one line
/// is checked by its own validation, as names are).
package enum TextInput {
    /// The first control character in `text`, if any.
    package static func firstControlCharacter(in text: some StringProtocol) -> Unicode.Scalar? {
        text.unicodeScalars.first(where: isRefused)
    }

    package static func isRefused(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: false
        case 0x00...0x1F, 0x7F...0x9F: true
        default: false
        }
    }

    /// `U+0000`, as an error message names a character that cannot be shown.
    package static func name(_ scalar: Unicode.Scalar) -> String {
        "U+" + String(format: "%04X", scalar.value)
    }

    /// The sentence an error gives for a refused character.
    package static func problem(_ scalar: Unicode.Scalar) -> String {
        "The text contains the control character \(name(scalar)), which Portico does not accept in any text"
    }

    /// The first refused character in the strings of a JSON document, read from its bytes — escaped
    /// (`\u0000`) or raw (DEL; C1 as UTF-8) — whatever the structure: the backstop for what a parsed
    /// tree may not show (a repeated member name, of which decoders keep different ones).
    package static func firstControlCharacter(inJSON data: Data) -> Unicode.Scalar? {
        let bytes = [UInt8](data)
        func hex(_ byte: UInt8) -> UInt32? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
            default: nil
            }
        }
        var inString = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard inString else {
                inString = byte == UInt8(ascii: "\"")
                index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = false
                index += 1
            case UInt8(ascii: "\\"):
                if index + 5 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") {
                    let digits = bytes[(index + 2)...(index + 5)].map(hex)
                    if !digits.contains(where: { $0 == nil }) {
                        let value = digits.reduce(UInt32(0)) { $0 << 4 | $1! }
                        if let scalar = Unicode.Scalar(value), isRefused(scalar) { return scalar }
                    }
                    index += 6
                } else {
                    // The short escapes of two refused characters: \b (U+0008) and \f (U+000C).
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "b") { return "\u{8}" }
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "f") { return "\u{C}" }
                    index += 2
                }
            case 0xC2 where index + 1 < bytes.count && (0x80...0x9F).contains(bytes[index + 1]):
                return Unicode.Scalar(UInt32(bytes[index + 1]))
            default:
                if byte < 0x80, let scalar = Unicode.Scalar(UInt32(byte)), isRefused(scalar) { return scalar }
                index += 1
            }
        }
        return nil
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
                if let bad = firstControlCharacter(in: key) {
                    throw .invalidField(path.isEmpty ? "(a member name)" : "\(path) (a member name)", problem(bad))
                }
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
package struct TextInputMiddleware<Context: RequestContext>: RouterMiddleware {
    package init() {}

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
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
