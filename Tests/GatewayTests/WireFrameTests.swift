import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
import WebSocketWire

@testable import gateway

/// The relay's frame reading and writing, checked against NIO's own frame codec.
@Suite struct WireFrameTests {
    /// A frame's bytes as NIO's encoder writes them.
    static func nioEncoded(_ frame: WebSocketFrame) throws -> ByteBuffer {
        let channel = EmbeddedChannel(handler: WebSocketFrameEncoder())
        try channel.writeOutbound(frame)
        var bytes = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&part) }
        return bytes
    }

    /// The frames NIO's decoder reads from `bytes`.
    static func nioDecoded(_ bytes: ByteBuffer) throws -> [WebSocketFrame] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
        try channel.writeInbound(bytes)
        var frames: [WebSocketFrame] = []
        while let frame = try channel.readInbound(as: WebSocketFrame.self) { frames.append(frame) }
        return frames
    }

    static let lengths = [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 125, 126, 127, 65_535, 65_536, 70_001]

    static func payload(_ length: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    @Test(arguments: lengths)
    func readsWhatNIOWritesAndReEncodesWithAFreshKey(length: Int) throws {
        let payload = Self.payload(length)
        let sent = WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: ByteBuffer(bytes: payload))
        var bytes = try Self.nioEncoded(sent)
        let all = bytes
        var reader = FrameReader(sender: .client, maxFrameBytes: 1 << 20)
        let frame = try #require(try reader.next(from: &bytes))
        #expect(bytes.readableBytes == 0)
        #expect(frame.length == length && frame.mask == WireMask.word(sent.maskKey!))
        #expect(frame.wire == all, "the whole frame, as read")
        #expect(Array(frame.unmaskedPayload.readableBytesView) == payload)

        let key = MaskKeys.next()
        let decoded = try Self.nioDecoded(frame.encoded(mask: key, allocator: ByteBufferAllocator()))
        #expect(decoded.count == 1 && decoded.first?.maskKey == WireMask.key(key))
        #expect(decoded.first.map { Array($0.unmaskedData.readableBytesView) } == payload, "unmasked and masked in one pass")
        let plain = try Self.nioDecoded(frame.encoded(mask: nil, allocator: ByteBufferAllocator()))
        #expect(plain.first?.maskKey == nil && plain.first.map { Array($0.data.readableBytesView) } == payload)
    }

    @Test func framesSplitAtEveryByteAreReadWhenWhole() throws {
        var stream = ByteBuffer()
        var expected: [[UInt8]] = []
        for (index, length) in [5, 130, 0, 70_000].enumerated() {
            let payload = Self.payload(length)
            expected.append(payload)
            var frame = try Self.nioEncoded(
                WebSocketFrame(
                    fin: index == 3,
                    opcode: index == 0 ? .text : .continuation,
                    maskKey: .random(),
                    data: ByteBuffer(bytes: payload)
                )
            )
            stream.writeBuffer(&frame)
        }
        for chunk in [1, 2, 3, 7, 1000, stream.readableBytes] {
            var reader = FrameReader(sender: .client, maxFrameBytes: 1 << 20)
            var pending = ByteBuffer()
            var read: [[UInt8]] = []
            var source = stream
            while source.readableBytes > 0 {
                var part = source.readSlice(length: min(chunk, source.readableBytes))!
                pending.writeBuffer(&part)
                while let frame = try reader.next(from: &pending) { read.append(Array(frame.unmaskedPayload.readableBytesView)) }
            }
            #expect(read == expected, "chunks of \(chunk) bytes")
            #expect(pending.readableBytes == 0)
        }
    }

    @Test func aFrameOverTheLimitIsRefusedFromItsHeader() throws {
        var header = ByteBuffer(bytes: [0x82, 0x80 | 127])
        header.writeInteger(UInt64(1) << 40)
        var reader = FrameReader(sender: .client, maxFrameBytes: 1000)
        #expect(throws: FrameReader.Failure.tooLong) { try reader.next(from: &header) }
        var medium = ByteBuffer(bytes: [0x82, 0x80 | 126, 0x03, 0xE9])  // 1001 bytes announced, none sent
        var fresh = FrameReader(sender: .client, maxFrameBytes: 1000)
        #expect(throws: FrameReader.Failure.tooLong) { try fresh.next(from: &medium) }
    }

    @Test func controlFramesAreWholeAndShort() throws {
        for bytes: [UInt8] in [[0x09, 0x80, 1, 2, 3, 4], [0x89, 0x80 | 126, 0, 126]] {
            var buffer = ByteBuffer(bytes: bytes)
            var reader = FrameReader(sender: .client, maxFrameBytes: 1 << 20)
            #expect(throws: FrameReader.Failure.invalidControlFrame) { try reader.next(from: &buffer) }
        }
    }

    @Test func theFrameRulesApply() throws {
        var unmasked = ByteBuffer(bytes: [0x81, 0x01, 0x61])
        var fromClient = FrameReader(sender: .client, maxFrameBytes: 1 << 20)
        #expect(throws: FrameReader.Failure.violation(.protocolError("unmasked frame from a client"))) { try fromClient.next(from: &unmasked) }
        var compressed = ByteBuffer(bytes: [0xC1, 0x01, 0x61])
        var fromServer = FrameReader(sender: .server, maxFrameBytes: 1 << 20)
        #expect(throws: FrameReader.Failure.violation(.protocolError("reserved bit set"))) { try fromServer.next(from: &compressed) }
        var badClose = ByteBuffer(bytes: [0x88, 0x02, 0x03, 0xED])  // 1005 may not be sent
        var closing = FrameReader(sender: .server, maxFrameBytes: 1 << 20)
        #expect(throws: FrameReader.Failure.violation(.protocolError("invalid close code 1005"))) { try closing.next(from: &badClose) }
    }

    @Test func theMaskMatchesNIOs() throws {
        for length in 0..<40 {
            let payload = Self.payload(length)
            let key = WebSocketMaskingKey.random()
            var nio = ByteBuffer(bytes: payload)
            nio.webSocketMask(key)
            var ours = ByteBuffer(bytes: payload)
            ours.withUnsafeMutableReadableBytes { WireMask.apply(WireMask.word(key), to: $0) }
            #expect(ours == nio, "\(length) bytes")
        }
    }
}
