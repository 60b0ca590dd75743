import Foundation
import Hummingbird
import PorticoCore

/// `application/x-www-form-urlencoded` request bodies.
enum FormBody {
    static func parse(_ request: Request, limit: Int) async throws -> [String: String] {
        let contentType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard contentType == "application/x-www-form-urlencoded" else {
            throw OAuthError(.badRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw OAuthError(.contentTooLarge, "invalid_request", "the body is larger than \(limit) bytes")
        }
        var values: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let name = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            if let bad = TextInput.firstControlCharacter(in: name) ?? TextInput.firstControlCharacter(in: value) {
                // Credentials with a control character are nobody's: the client is unknown.
                if name == "client_id" || name == "client_secret" { throw OAuthError.invalidClient("unknown client or wrong secret") }
                let shown = TextInput.firstControlCharacter(in: name) == nil ? "'\(name.prefix(64))'" : "a parameter name"
                throw OAuthError(.badRequest, "invalid_request", "\(shown) contains the control character \(TextInput.name(bad))")
            }
            guard values[name] == nil else {
                // RFC 6749 §3.2: parameters must not be repeated.
                throw OAuthError(.badRequest, "invalid_request", "the parameter '\(name)' is repeated")
            }
            values[name] = value
        }
        return values
    }
}
