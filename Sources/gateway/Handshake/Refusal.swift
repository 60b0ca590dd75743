import Foundation
import NIOCore
import NIOHTTP1

/// Why a handshake is refused: the HTTP status, a machine-readable code and a sentence. Sent as
/// JSON `{code, message}`; 401s carry `WWW-Authenticate: Bearer … error="invalid_token"`.
/// `response` is the only way a refusal becomes bytes, and no header value it writes can carry a
/// line break or any other control character, whatever a message says.
struct Refusal: Error, Sendable, Equatable {
    let status: HTTPResponseStatus
    let code: String
    let message: String
    var extraHeaders: [(String, String)] = []

    static func == (a: Refusal, b: Refusal) -> Bool { a.status == b.status && a.code == b.code && a.message == b.message }

    static func unauthorized(_ code: String, _ message: String) -> Refusal {
        Refusal(
            status: .unauthorized,
            code: code,
            message: message,
            extraHeaders: [
                ("WWW-Authenticate", "Bearer realm=\"portico\", error=\"invalid_token\", error_description=\(quoted(message))")
            ]
        )
    }

    static func forbidden(_ code: String, _ message: String) -> Refusal {
        Refusal(status: .forbidden, code: code, message: message)
    }

    static let notFound = Refusal(status: .notFound, code: "not_found", message: "No API is served at this path")

    /// A request the HTTP parser refused: 431 for a header block over the limit, else 400.
    static func malformed(_ error: HTTPParserError, maxHeaderBytes: Int) -> Refusal {
        if error == .headerOverflow {
            return Refusal(
                status: .requestHeaderFieldsTooLarge,
                code: "headers_too_large",
                message: "The request line and headers are larger than \(maxHeaderBytes) bytes"
            )
        }
        return Refusal(status: .badRequest, code: "malformed_request", message: "The request is not valid HTTP/1.1 (\(error))")
    }

    static let unexpectedBody = Refusal(status: .badRequest, code: "unexpected_body", message: "A WebSocket handshake has no body")

    static func timedOut(after seconds: Int) -> Refusal {
        Refusal(
            status: .requestTimeout,
            code: "handshake_timeout",
            message: "The handshake request was not complete within \(seconds) s"
        )
    }

    static let tooManyHandshakes = Refusal(
        status: .serviceUnavailable,
        code: "too_many_handshakes",
        message: "Too many handshakes are in progress; retry in a second",
        extraHeaders: [("Retry-After", "1")]
    )

    /// The refusal as an HTTP response: the head (with `Connection: close`) and the JSON body.
    func response(allocator: ByteBufferAllocator) -> (HTTPResponseHead, ByteBuffer) {
        var body = allocator.buffer(capacity: 128)
        let json = (try? JSONSerialization.data(withJSONObject: ["code": code, "message": message], options: [.sortedKeys])) ?? Data()
        body.writeBytes(json)
        var headers = HTTPHeaders([
            ("Content-Type", "application/json"), ("Content-Length", "\(body.readableBytes)"), ("Connection", "close"),
        ])
        for (name, value) in extraHeaders { headers.add(name: name, value: Self.headerSafe(value)) }
        return (HTTPResponseHead(version: .http1_1, status: status, headers: headers), body)
    }

    /// A header value with every control character (CR and LF among them) and every non-ASCII
    /// character replaced by `?`: nothing that reaches a header can end it or start another.
    static func headerSafe(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F }) else { return value }
        return String(String.UnicodeScalarView(value.unicodeScalars.map { (0x20..<0x7F).contains($0.value) ? $0 : "?" }))
    }

    /// An RFC 9110 quoted-string: `"` and `\` escaped (and `headerSafe` applied when the header is written).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }
}
