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
        do {
            return try URLEncodedForm.decode(String(buffer: buffer))
        } catch .controlCharacter(let name, let bad) {
            // Credentials with a control character are nobody's: the client is unknown.
            if name == "client_id" || name == "client_secret" { throw OAuthError.invalidClient("unknown client or wrong secret") }
            let shown = name.map { "'\($0.prefix(64))'" } ?? "a parameter name"
            throw OAuthError(.badRequest, "invalid_request", "\(shown) contains the control character \(TextInput.name(bad))")
        } catch .repeated(let name) {
            // RFC 6749 §3.2: parameters must not be repeated.
            throw OAuthError(.badRequest, "invalid_request", "the parameter '\(name)' is repeated")
        }
    }
}
