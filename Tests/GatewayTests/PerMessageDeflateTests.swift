import NIOCore
import Testing
import WebSocketWire

@testable import gateway

/// permessage-deflate (RFC 7692): what the gateway agrees to on each side, and its zlib streams
/// checked against the RFC's own examples.
@Suite struct PerMessageDeflateTests {
    @Test func clientOffersTheGatewayAccepts() {
        let plain = PerMessageDeflate.accept(offers: ["permessage-deflate"])
        #expect(plain?.response == "permessage-deflate")
        #expect(plain?.parameters == PerMessageDeflate.Parameters())

        // What browsers send.
        let browser = PerMessageDeflate.accept(offers: ["permessage-deflate; client_max_window_bits"])
        #expect(browser?.response == "permessage-deflate")

        let all = PerMessageDeflate.accept(offers: [
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"
        ])
        #expect(all?.response == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10")
        #expect(all?.parameters == .init(compressNoContextTakeover: true, decompressNoContextTakeover: true, compressWindowBits: 10))

        // Quoted values are allowed (RFC 7692 §7.1).
        #expect(PerMessageDeflate.accept(offers: [#"permessage-deflate; server_max_window_bits="12""#])?.parameters.compressWindowBits == 12)
    }

    @Test func offersTheGatewayDeclines() {
        #expect(PerMessageDeflate.accept(offers: []) == nil)
        #expect(PerMessageDeflate.accept(offers: ["x-webkit-deflate-frame"]) == nil)
        #expect(PerMessageDeflate.accept(offers: ["permessage-deflate; unknown_parameter"]) == nil)
        #expect(PerMessageDeflate.accept(offers: ["permessage-deflate; server_no_context_takeover; server_no_context_takeover"]) == nil)
        #expect(PerMessageDeflate.accept(offers: ["permessage-deflate; server_max_window_bits=16"]) == nil)
        #expect(PerMessageDeflate.accept(offers: ["permessage-deflate; server_max_window_bits=010"]) == nil)
        #expect(PerMessageDeflate.accept(offers: ["permessage-deflate; server_max_window_bits"]) == nil)
        #expect(PerMessageDeflate.accept(offers: ["permessage-deflate; client_no_context_takeover=1"]) == nil)
        // zlib cannot compress with a 256-byte window, so that offer is declined...
        #expect(PerMessageDeflate.accept(offers: ["permessage-deflate; server_max_window_bits=8"]) == nil)
        // ...and the client's next offer taken instead.
        #expect(
            PerMessageDeflate.accept(offers: ["permessage-deflate; server_max_window_bits=8, permessage-deflate"])?.response
                == "permessage-deflate"
        )
        #expect(
            PerMessageDeflate.accept(offers: ["permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=9"])?
                .parameters.compressWindowBits == 9
        )
    }

    @Test func backendAnswers() throws {
        #expect(try PerMessageDeflate.accepted(response: [], offered: true).get() == nil)
        #expect(try PerMessageDeflate.accepted(response: ["permessage-deflate"], offered: true).get() == .init())
        #expect(
            try PerMessageDeflate.accepted(
                response: ["permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9"],
                offered: true
            ).get() == .init(compressNoContextTakeover: true, decompressNoContextTakeover: true)
        )
        for invalid in [
            ["permessage-deflate; client_max_window_bits=10"],  // not offered
            ["permessage-deflate; bogus"], ["x-other"], ["permessage-deflate, permessage-deflate"],
            ["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
        ] {
            #expect(throws: Backend.Failure.self, "\(invalid)") { try PerMessageDeflate.accepted(response: invalid, offered: true).get() }
        }
        // An answer to an offer the gateway did not make.
        #expect(throws: Backend.Failure.self) { try PerMessageDeflate.accepted(response: ["permessage-deflate"], offered: false).get() }
    }

    /// RFC 7692 §7.2.3.2: "Hello" twice with context takeover; the second message refers back.
    @Test func inflatesTheRFCExamples() throws {
        let stream = try ZlibStream(inflateWindowBits: 15)
        let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]
        for message: [UInt8] in [[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], [0xF2, 0x00, 0x11, 0x00, 0x00]] {
            var input = ByteBuffer(bytes: message + tail)
            var output = ByteBuffer()
            try stream.inflate(&input, into: &output, limit: 1000)
            #expect(String(buffer: output) == "Hello")
        }
        // §7.2.3.3: a message split over two frames ("He", "llo"), each compressed on its own.
        let split = try ZlibStream(inflateWindowBits: 15)
        var output = ByteBuffer()
        for part: [UInt8] in [[0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF], [0xCA, 0xC9, 0xC9, 0x07, 0x00] + tail] {
            var input = ByteBuffer(bytes: part)
            try split.inflate(&input, into: &output, limit: 1000)
        }
        #expect(String(buffer: output) == "Hello")
    }

    @Test func roundTripsAndBoundsWhatItInflates() throws {
        let deflater = try ZlibStream(deflateWindowBits: 15)
        let inflater = try ZlibStream(inflateWindowBits: 15)
        let text = String(repeating: "portico relays WebSocket messages. ", count: 3000)
        var compressed = ByteBuffer()
        try deflater.deflate(ByteBuffer(string: text), into: &compressed)
        #expect(compressed.readableBytes < text.utf8.count / 20)
        var output = ByteBuffer()
        try inflater.inflate(&compressed, into: &output, limit: 1 << 20)
        #expect(String(buffer: output) == text)

        // A small frame that inflates beyond the limit is refused, not inflated in full.
        var bomb = ByteBuffer()
        try ZlibStream(deflateWindowBits: 15).deflate(ByteBuffer(repeating: 0, count: 10_000_000), into: &bomb)
        #expect(bomb.readableBytes < 20_000)
        var sink = ByteBuffer()
        #expect(throws: DeflateFailure.tooBig) { try ZlibStream(inflateWindowBits: 15).inflate(&bomb, into: &sink, limit: 1 << 20) }
        #expect(sink.readableBytes == (1 << 20) + 1)

        var garbage = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x00])
        var empty = ByteBuffer()
        #expect(throws: DeflateFailure.invalidData) { try ZlibStream(inflateWindowBits: 15).inflate(&garbage, into: &empty, limit: 1 << 20) }
    }
}
