import NIOCore
import NIOWebSocket
import WebSocketWire

/// A frame as it came off the wire, read in place: the header's fields and the payload as a slice
/// of the bytes read — still masked when the sender masked it. The relay reads nothing more of a
/// data frame: it counts, limits and forwards it; only a control frame's payload is unmasked.
struct WireFrame {
    var fin: Bool
    var opcode: WebSocketOpcode
    /// The sender's masking key, its four bytes in wire order (big-endian); nil when unmasked.
    var mask: UInt32?
    var payload: ByteBuffer
    /// The whole frame as read, header and payload: what the relay forwards when nothing in it
    /// changes. Nil for a frame the gateway made or that came out of permessage-deflate.
    var wire: ByteBuffer?

    var length: Int { payload.readableBytes }

    /// The payload as sent: unmasked into a copy when masked (control frames only: ≤ 125 bytes).
    var unmaskedPayload: ByteBuffer {
        guard let mask else { return payload }
        var copy = payload
        copy.withUnsafeMutableReadableBytes { WireMask.apply(mask, to: $0) }
        return copy
    }

    /// A frame the gateway writes itself (a close, a ping, a notice, a pushed message).
    static func own(_ opcode: WebSocketOpcode, _ payload: ByteBuffer) -> WireFrame {
        WireFrame(fin: true, opcode: opcode, mask: nil, payload: payload, wire: nil)
    }

    /// A frame decoded by the permessage-deflate pipeline (inflated, unmasked).
    init(_ frame: WebSocketFrame) {
        self.init(fin: frame.fin, opcode: frame.opcode, mask: frame.maskKey.map(WireMask.word), payload: frame.data, wire: nil)
    }

    init(fin: Bool, opcode: WebSocketOpcode, mask: UInt32?, payload: ByteBuffer, wire: ByteBuffer?) {
        self.fin = fin
        self.opcode = opcode
        self.mask = mask
        self.payload = payload
        self.wire = wire
    }

    /// The frame's bytes with `mask` as its masking key (nil: unmasked), in one new buffer: the
    /// header, then the payload copied and XORed once with the sender's key and the new one
    /// together — which unmasks and masks in one pass (RFC 6455 §5.3: masking is a XOR).
    func encoded(mask newMask: UInt32?, allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = payload.readableBytes
        var out = allocator.buffer(capacity: 14 + length)
        out.writeInteger((fin ? 0x80 : 0) | UInt8(webSocketOpcode: opcode))
        let maskBit: UInt8 = newMask == nil ? 0 : 0x80
        switch length {
        case ..<126:
            out.writeInteger(maskBit | UInt8(length))
        case ..<65_536:
            out.writeInteger(maskBit | 126)
            out.writeInteger(UInt16(length))
        default:
            out.writeInteger(maskBit | 127)
            out.writeInteger(UInt64(length))
        }
        if let newMask { out.writeInteger(newMask) }
        let payloadStart = out.readableBytes
        out.writeImmutableBuffer(payload)
        let combined = (mask ?? 0) ^ (newMask ?? 0)
        if combined != 0 {
            out.withUnsafeMutableReadableBytes { WireMask.apply(combined, to: UnsafeMutableRawBufferPointer(rebasing: $0[payloadStart...])) }
        }
        return out
    }
}

/// RFC 6455 §5.3's masking: a XOR of the payload with the four-byte key repeated from the
/// payload's first byte — one operation for masking and unmasking, eight bytes at a time.
enum WireMask {
    static func apply(_ mask: UInt32, to bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        // The key's bytes in wire order, twice: what one 8-byte load is XORed with, on either endianness.
        let inMemory = UInt64(mask.bigEndian)
        let word = inMemory | inMemory << 32
        let count = bytes.count
        var offset = 0
        while offset + 8 <= count {
            let value = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            base.storeBytes(of: value ^ word, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        while offset < count {
            let keyByte = UInt8(truncatingIfNeeded: mask >> (24 - 8 * UInt32(offset & 3)))
            base.storeBytes(of: base.load(fromByteOffset: offset, as: UInt8.self) ^ keyByte, toByteOffset: offset, as: UInt8.self)
            offset += 1
        }
    }

    static func word(_ key: WebSocketMaskingKey) -> UInt32 {
        UInt32(key[0]) << 24 | UInt32(key[1]) << 16 | UInt32(key[2]) << 8 | UInt32(key[3])
    }

    static func key(_ word: UInt32) -> WebSocketMaskingKey {
        WebSocketMaskingKey([
            UInt8(truncatingIfNeeded: word >> 24), UInt8(truncatingIfNeeded: word >> 16),
            UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word),
        ])!
    }
}

/// Reads whole frames off the front of what one side sent, in place, and holds each to RFC 6455
/// (`FrameRules`) as it goes. A frame longer than the reader accepts is refused from its header,
/// before its payload arrives; a frame not yet complete stays in the buffer for the next read.
struct FrameReader {
    enum Failure: Error, Equatable {
        case violation(FrameViolation)
        /// A frame longer than `maxFrameBytes`.
        case tooLong
        /// A control frame that is fragmented or longer than 125 bytes (RFC 6455 §5.5).
        case invalidControlFrame
    }

    private var rules: FrameRules
    let maxFrameBytes: Int

    init(sender: FrameRules.Sender, maxFrameBytes: Int) {
        rules = FrameRules(sender: sender, compressionNegotiated: false)
        self.maxFrameBytes = maxFrameBytes
    }

    /// The next whole frame at the front of `buffer`, consumed from it; nil until one has arrived.
    mutating func next(from buffer: inout ByteBuffer) throws(Failure) -> WireFrame? {
        let start = buffer.readerIndex
        let available = buffer.readableBytes
        guard available >= 2, let first = buffer.getInteger(at: start, as: UInt8.self),
            let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        let opcode = WebSocketOpcode(encodedWebSocketOpcode: first & 0x0F)!
        let fin = first & 0x80 != 0
        var length = Int(second & 0x7F)
        var headerLength = 2
        if opcode.isControlOpcode && (!fin || length > 125) { throw .invalidControlFrame }
        if length == 126 {
            guard let extended = buffer.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            length = Int(extended)
            headerLength = 4
        } else if length == 127 {
            guard let extended = buffer.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            guard extended <= UInt64(maxFrameBytes) else { throw .tooLong }
            length = Int(extended)
            headerLength = 10
        }
        guard length <= maxFrameBytes else { throw .tooLong }
        let masked = second & 0x80 != 0
        if masked { headerLength += 4 }
        guard available >= headerLength + length else { return nil }
        let frame = WireFrame(
            fin: fin,
            opcode: opcode,
            mask: masked ? buffer.getInteger(at: start + headerLength - 4, as: UInt32.self) : nil,
            payload: buffer.getSlice(at: start + headerLength, length: length)!,
            wire: buffer.readSlice(length: headerLength + length)
        )
        if let violation = rules.check(
            fin: fin,
            rsv1: first & 0x40 != 0,
            rsv2: first & 0x20 != 0,
            rsv3: first & 0x10 != 0,
            opcode: opcode,
            masked: masked,
            closePayload: frame.unmaskedPayload
        ) {
            throw .violation(violation)
        }
        return frame
    }
}
