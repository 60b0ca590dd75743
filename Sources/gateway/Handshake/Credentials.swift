import NIOHTTP1

/// Stage 2: where the token is. `Authorization: Bearer <token>` (scheme case-insensitive) first,
/// else the `access_token` query parameter. Anything else is a 401.
enum Credentials {
    static func extract(headers: HTTPHeaders, query: [(name: String, value: String)]) throws(Refusal) -> String {
        if let header = headers.first(name: "authorization") {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw .unauthorized("malformed_authorization", "The Authorization header must be 'Bearer <token>'")
            }
            var token = parts[1]
            while token.first == " " || token.first == "\t" { token.removeFirst() }
            while token.last == " " || token.last == "\t" { token.removeLast() }
            guard !token.isEmpty else { throw .unauthorized("empty_token", "The bearer token is empty") }
            return String(token)
        }
        if let value = query.last(where: { $0.name == "access_token" })?.value {
            guard !value.isEmpty else { throw .unauthorized("empty_token", "The access_token query parameter is empty") }
            return value
        }
        throw .unauthorized("missing_token", "No access token: send 'Authorization: Bearer <token>' or '?access_token=<token>'")
    }
}
