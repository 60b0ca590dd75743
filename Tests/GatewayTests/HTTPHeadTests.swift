import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import gateway

/// The heads the gateway writes as bytes on both sides (`HTTPHead`): what NIO's encoders wrote for
/// the same head, and nothing a head cannot carry.
@Suite struct HTTPHeadTests {
    @Test func theRequestHeadIsWrittenAsGivenAndNothingUnsendableGoesOut() throws {
        let headers = HTTPHeaders([("Host", "backend:8080"), ("X-Portico-Subscriber", "dév\tone"), ("Upgrade", "websocket")])
        let head = try #require(HTTPHead.request(pathAndQuery: "/ws?a=1&b=%20", headers: headers))
        #expect(
            String(buffer: head)
                == "GET /ws?a=1&b=%20 HTTP/1.1\r\nHost: backend:8080\r\nX-Portico-Subscriber: dév\tone\r\nUpgrade: websocket\r\n\r\n"
        )
        #expect(HTTPHead.request(pathAndQuery: "/ws", headers: HTTPHeaders([("X-Name", "a\r\nInjected: yes")])) == nil)
        #expect(HTTPHead.request(pathAndQuery: "/ws", headers: HTTPHeaders([("X Name", "a")])) == nil)
        #expect(HTTPHead.request(pathAndQuery: "/ws", headers: HTTPHeaders([("X-Name", "a\u{7F}")])) == nil)
        for target in ["/ws?a=b c", "/ws?a=\"", "/ws\r\nX: y", "/wé"] {
            #expect(HTTPHead.request(pathAndQuery: target, headers: [:]) == nil, "\(target.debugDescription)")
        }
    }

    /// The bytes NIO's response encoder writes for `head` and `body`: the oracle.
    static func encoded(_ head: HTTPResponseHead, body: ByteBuffer?) throws -> String {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTPResponseEncoder())
        try channel.writeOutbound(HTTPServerResponsePart.head(head))
        if let body { try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(body))) }
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        var written = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&part) }
        _ = try channel.finish()
        return String(buffer: written)
    }

    @Test func responsesAreWhatNIOsEncoderWrote() throws {
        let switching = HTTPHeaders([
            ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            ("X-Portico-Connection-Id", "00010203-0405-4607-8809-0a0b0c0d0e0f"), ("Sec-WebSocket-Protocol", "chat"),
        ])
        let written = try #require(HTTPHead.response(.switchingProtocols, headers: switching, allocator: ByteBufferAllocator()))
        #expect(
            String(buffer: written)
                == (try Self.encoded(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: switching), body: nil))
        )

        let refusal = Refusal(status: .tooManyRequests, code: "connection_limit", message: "Too many", extraHeaders: [("Retry-After", "5")])
        let (head, body) = refusal.response(allocator: ByteBufferAllocator())
        let answer = try #require(HTTPHead.response(head.status, headers: head.headers, body: body, allocator: ByteBufferAllocator()))
        #expect(String(buffer: answer) == (try Self.encoded(head, body: body)))
    }

    @Test func aResponseWithAnUnwritableHeaderIsNotWritten() {
        for headers in [HTTPHeaders([("X-A", "b\r\nSet-Cookie: c")]), HTTPHeaders([("X A", "b")]), HTTPHeaders([("", "b")])] {
            #expect(HTTPHead.response(.ok, headers: headers, allocator: ByteBufferAllocator()) == nil, "\(headers)")
        }
        #expect(HTTPHead.response(.custom(code: 599, reasonPhrase: "a\nb"), headers: [:], allocator: ByteBufferAllocator()) == nil)
    }
}
