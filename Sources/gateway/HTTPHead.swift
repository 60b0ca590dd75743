import NIOCore
import NIOHTTP1

/// HTTP/1.1 heads written as bytes, for both sides of a handshake: the request the gateway sends a
/// backend (`request`) and what it answers a client (`response`: the 101 and every refusal) — no
/// HTTP encoder and header validator in either channel's pipeline, added and taken out again per
/// connection. Nothing goes out that a head cannot carry (RFC 9110/9112, the checks of NIO's
/// header validators): a header name is a token, a value has no control character but tab, a
/// request-target only the characters RFC 3986 allows. A head that breaks one is not written at
/// all: the caller gets nil.
enum HTTPHead {
    static func request(pathAndQuery: String, headers: HTTPHeaders, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer? {
        guard pathAndQuery.utf8.allSatisfy(isTargetByte) else { return nil }
        var buffer = allocator.buffer(capacity: 512)
        buffer.writeString("GET ")
        buffer.writeString(pathAndQuery)
        buffer.writeString(" HTTP/1.1\r\n")
        guard append(headers, to: &buffer) else { return nil }
        return buffer
    }

    /// `HTTP/1.1 {code} {reason}`, the headers, the empty line, and `body` after them.
    static func response(
        _ status: HTTPResponseStatus,
        headers: HTTPHeaders,
        body: ByteBuffer? = nil,
        allocator: ByteBufferAllocator
    )
        -> ByteBuffer?
    {
        let reason = status.reasonPhrase
        guard reason.utf8.allSatisfy(isValueByte) else { return nil }
        var buffer = allocator.buffer(capacity: 256 + (body?.readableBytes ?? 0))
        buffer.writeString("HTTP/1.1 \(status.code) ")
        buffer.writeString(reason)
        buffer.writeString("\r\n")
        guard append(headers, to: &buffer) else { return nil }
        if var body { buffer.writeBuffer(&body) }
        return buffer
    }

    /// The header lines and the empty line that ends a head.
    private static func append(_ headers: HTTPHeaders, to buffer: inout ByteBuffer) -> Bool {
        for (name, value) in headers {
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte), value.utf8.allSatisfy(isValueByte) else { return false }
            buffer.writeString(name)
            buffer.writeString(": ")
            buffer.writeString(value)
            buffer.writeString("\r\n")
        }
        buffer.writeString("\r\n")
        return true
    }

    /// RFC 9110's field-value bytes: no control character but tab.
    static func isValueByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F)
    }

    /// RFC 9110's tchar.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// RFC 3986's characters of an origin-form target (unreserved, gen-delims, sub-delims, `%`).
    static func isTargetByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
            UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "["), UInt8(ascii: "]"),
            UInt8(ascii: "@"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
            UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="),
            UInt8(ascii: "%"):
            true
        default: false
        }
    }
}
