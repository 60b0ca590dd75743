import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOWebSocket
import Testing

@testable import PorticoCore
@testable import WebSocketWire
@testable import gateway

/// The classes of bug the outside security test found, closed where they start: the one writer
/// of refusals, the token reader, and the frame rules.
@Suite struct HardeningUnitTests {
    /// Random text — line breaks, NUL, any Unicode — in a refusal's message: the response head that
    /// `Refusal.response` makes is one `HTTPHead.response` writes (it writes no head a header
    /// could break out of), and its header block is exactly the refusal's own lines.
    @Test func noRefusalHeaderCanCarryAControlCharacter() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["\r\n", "\r", "\n", "\u{0}", "\"", "\\", "Set-Cookie: a=b", "é", "\u{7F}", "x", " ", "\u{2028}"]
        for _ in 0..<300 {
            let message = (0..<Int.random(in: 0...12, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            for refusal in [
                Refusal.unauthorized("bad_token", message),
                Refusal(status: .badRequest, code: "x", message: message, extraHeaders: [("X-Test", message)]),
            ] {
                let (head, body) = refusal.response(allocator: ByteBufferAllocator())
                let written = try #require(HTTPHead.response(head.status, headers: head.headers, body: body, allocator: ByteBufferAllocator()))
                let text = String(buffer: written)
                let headBlock = try #require(text.components(separatedBy: "\r\n\r\n").first)
                let lines = headBlock.components(separatedBy: "\r\n")
                #expect(lines.count == 4 + refusal.extraHeaders.count, "\(message.debugDescription): \(headBlock.debugDescription)")
                for line in lines { #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value >= 0x7F }, "\(line.debugDescription)") }
                let json = try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: String])
                #expect(json["message"] == message, "the body keeps the message, JSON-escaped")
            }
        }
    }

    /// Random bytes in the JOSE header's fields: always a 401, and nothing of the field is quoted back.
    @Test func randomJOSEHeadersAreRefusedWithoutEcho() throws {
        let verifier = TokenVerifier(issuer: "http://localhost:9081", audience: "portico-gateway", leeway: 30)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 1...24, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let field = "zq" + String(decoding: bytes, as: UTF8.self)
            var header: [String: String] = ["alg": "RS256", "kid": "k1"]
            header[["alg", "kid", "typ", "crit"].randomElement(using: &generator)!] = field
            let data = try JSONSerialization.data(withJSONObject: header)
            let token = Data(data).base64URLEncoded + "." + Data("{}".utf8).base64URLEncoded + "." + Data([1, 2, 3]).base64URLEncoded
            let refusal = #expect(throws: Refusal.self) { try verifier.verify(token, in: CatalogFixtures.table()) }
            #expect(refusal?.status == .unauthorized)
            #expect(refusal.map { !$0.message.contains("zq") } == true, "\(refusal?.message ?? "")")
        }
    }

    static func frame(
        _ opcode: WebSocketOpcode,
        fin: Bool = true,
        rsv1: Bool = false,
        rsv2: Bool = false,
        masked: Bool = true,
        payload: [UInt8] = []
    ) -> WebSocketFrame {
        WebSocketFrame(fin: fin, rsv1: rsv1, rsv2: rsv2, opcode: opcode, maskKey: masked ? .random() : nil, data: ByteBuffer(bytes: payload))
    }

    /// What each side may send (RFC 6455 §5 and §7.4, RFC 7692 §6), as `FrameCheckHandler` judges it.
    @Test func frameRules() {
        let client = FrameCheckHandler(sender: .client, compressionNegotiated: false)
        #expect(client.check(Self.frame(.text, masked: false)) == .protocolError("unmasked frame from a client"))
        #expect(client.check(Self.frame(.text)) == nil)
        #expect(client.check(Self.frame(.binary, fin: false)) == nil)
        #expect(client.check(Self.frame(.ping)) == nil, "control frames may come inside a message")
        #expect(client.check(Self.frame(.text)) == .protocolError("new message inside a fragmented one"))

        let fresh = { FrameCheckHandler(sender: .client, compressionNegotiated: false) }
        #expect(fresh().check(Self.frame(.continuation)) == .protocolError("continuation frame without a message"))
        #expect(fresh().check(Self.frame(WebSocketOpcode(encodedWebSocketOpcode: 3)!)) == .protocolError("reserved opcode"))
        #expect(fresh().check(Self.frame(WebSocketOpcode(encodedWebSocketOpcode: 0xB)!)) == .protocolError("reserved opcode"))
        #expect(fresh().check(Self.frame(.text, rsv2: true)) == .protocolError("reserved bit set"))
        #expect(fresh().check(Self.frame(.text, rsv1: true)) == .protocolError("reserved bit set"))

        let compressing = FrameCheckHandler(sender: .client, compressionNegotiated: true)
        #expect(compressing.check(Self.frame(.text, fin: false, rsv1: true)) == nil)
        #expect(compressing.check(Self.frame(.continuation, rsv1: true)) == .protocolError("RSV1 on a continuation frame"))
        #expect(
            FrameCheckHandler(sender: .client, compressionNegotiated: true).check(Self.frame(.ping, rsv1: true))
                == .protocolError("reserved bit set on a control frame")
        )

        let server = FrameCheckHandler(sender: .server, compressionNegotiated: false)
        #expect(server.check(Self.frame(.text)) == .protocolError("masked frame from a server"))
        #expect(server.check(Self.frame(.text, masked: false)) == nil)
    }

    @Test func closeFrameRules() {
        func close(_ bytes: [UInt8]) -> FrameViolation? { FrameRules.checkClose(payload: ByteBuffer(bytes: bytes)) }
        #expect(close([]) == nil)
        #expect(close([0x03]) == .protocolError("close frame payload of one byte"))
        for code in [1000, 1001, 1002, 1003, 1007, 1011, 1012, 1014, 3000, 3999, 4000, 4999] {
            #expect(close([UInt8(code >> 8), UInt8(code & 0xFF)]) == nil, "\(code)")
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            #expect(close([UInt8(code >> 8), UInt8(code & 0xFF)]) == .protocolError("invalid close code \(code)"), "\(code)")
        }
        #expect(close([0x03, 0xE8] + Array("bye é".utf8)) == nil)
        #expect(close([0x03, 0xE8, 0xC3]) == .invalidPayload("close reason is not UTF-8"))
        #expect(close([0x03, 0xE8, 0xED, 0xA0, 0x80]) == .invalidPayload("close reason is not UTF-8"), "a surrogate")
    }
}
