import CZlib
import Foundation
import NIOCore
import NIOWebSocket

/// RFC 7692 permessage-deflate for SwiftNIO's WebSocket frames: negotiation and the codec. The
/// gateway negotiates it on each side of a relayed connection on its own (as the server towards
/// the client, as the client towards the backend) and puts a `PerMessageDeflateHandler` between
/// a side's frame codec and its relay handler, so the relay sees and forwards plain messages; the
/// sample echo backend uses the same handler as a server.
public enum PerMessageDeflate {
    /// The largest frame to read from a side that compresses, for a message limit of `limit`
    /// bytes: the limit holds for messages as the application sees them (after inflating, which the
    /// handler bounds), and a compressed frame may be larger than what it inflates to — stored
    /// blocks add 5 bytes per 64 KiB, fixed Huffman codes up to an eighth.
    public static func maxFrameBytes(forMessageLimit limit: Int) -> Int {
        let (sum, overflow) = limit.addingReportingOverflow(limit / 8 + 1024)
        return overflow ? Int.max : sum
    }

    /// What one side agreed, from the gateway's point of view.
    public struct Parameters: Equatable, Sendable {
        /// The gateway's compressor starts afresh for every message it sends to this side.
        public var compressNoContextTakeover = false
        /// This side's compressor starts afresh for every message, so the gateway's decompressor
        /// need not keep its window between messages.
        public var decompressNoContextTakeover = false
        /// The LZ77 window the gateway's compressor may use (9...15).
        public var compressWindowBits: Int32 = 15

        public init(compressNoContextTakeover: Bool = false, decompressNoContextTakeover: Bool = false, compressWindowBits: Int32 = 15) {
            self.compressNoContextTakeover = compressNoContextTakeover
            self.decompressNoContextTakeover = decompressNoContextTakeover
            self.compressWindowBits = compressWindowBits
        }
    }

    public struct Extension {
        public let name: String
        public let parameters: [(name: String, value: String?)]
    }

    /// `Sec-WebSocket-Extensions` values, in order: `name; param; param=value, name2 …`.
    public static func parse(_ values: [String]) -> [Extension] {
        values.flatMap { $0.split(separator: ",") }.compactMap { item in
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let name = parts.first, !name.isEmpty else { return nil }
            let parameters = parts.dropFirst().map { part -> (name: String, value: String?) in
                let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                var value = pair.count > 1 ? pair[1] : nil
                if let quoted = value, quoted.count >= 2, quoted.hasPrefix("\""), quoted.hasSuffix("\"") {
                    value = String(quoted.dropFirst().dropLast())
                }
                return (pair[0].lowercased(), value)
            }
            return Extension(name: name.lowercased(), parameters: parameters)
        }
    }

    /// A window size parameter's value: 8...15, digits only, no leading zero.
    public static func windowBits(_ value: String?) -> Int32? {
        guard let value, let first = value.first, first != "0", value.allSatisfy({ $0.isASCII && $0.isNumber }), let bits = Int32(value),
            (8...15).contains(bits)
        else { return nil }
        return bits
    }

    /// As the server: the first of the client's offers the gateway can honour, with the response
    /// header value. Offers with unknown, repeated or invalid parameters are declined (RFC 7692
    /// §5), as is `server_max_window_bits=8`, which zlib cannot honour.
    public static func accept(offers values: [String]) -> (response: String, parameters: Parameters)? {
        offers: for offer in parse(values) where offer.name == "permessage-deflate" {
            var parameters = Parameters()
            var response = ["permessage-deflate"]
            var seen = Set<String>()
            for (name, value) in offer.parameters {
                guard seen.insert(name).inserted else { continue offers }
                switch name {
                case "server_no_context_takeover":
                    guard value == nil else { continue offers }
                    parameters.compressNoContextTakeover = true
                    response.append(name)
                case "client_no_context_takeover":
                    guard value == nil else { continue offers }
                    parameters.decompressNoContextTakeover = true
                    response.append(name)
                case "server_max_window_bits":
                    guard let bits = windowBits(value), bits > 8 else { continue offers }
                    parameters.compressWindowBits = bits
                    response.append("server_max_window_bits=\(bits)")
                case "client_max_window_bits":
                    // The gateway decompresses with the largest window, so any client window works.
                    guard value == nil || windowBits(value) != nil else { continue offers }
                default:
                    continue offers
                }
            }
            return (response.joined(separator: "; "), parameters)
        }
        return nil
    }
}

/// Errors a compressed message can raise; the relay closes the sender's side with the matching code.
public enum DeflateFailure: Error {
    /// The compressed data is not valid DEFLATE (1007).
    case invalidData
    /// A frame decompresses to more than `GATEWAY_MAX_FRAME_BYTES` (1009).
    case tooBig
}

/// Decompresses the messages this side sends and compresses those it receives. Only the first
/// frame of a data message carries RSV1; control frames and frames whose reserved bits the gateway
/// does not own pass unchanged (the receiving peer judges them, as without the extension).
public final class PerMessageDeflateHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = WebSocketFrame
    public typealias OutboundIn = WebSocketFrame
    public typealias OutboundOut = WebSocketFrame

    /// Messages shorter than this go out uncompressed: deflating them costs more than it saves.
    public static let minimumCompressedBytes = 64

    public let parameters: PerMessageDeflate.Parameters
    public let maxFrameBytes: Int
    /// zlib streams are created at first use, so a connection that never compresses pays nothing.
    private var inflater: ZlibStream?
    private var deflater: ZlibStream?
    private var inflating = false
    private var deflating = false
    private var failed = false

    public init(parameters: PerMessageDeflate.Parameters, maxFrameBytes: Int) {
        self.parameters = parameters
        self.maxFrameBytes = maxFrameBytes
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            inflating = frame.rsv1
        case .continuation where inflating && !frame.rsv1:
            break
        default:
            context.fireChannelRead(data)
            return
        }
        guard inflating else {
            context.fireChannelRead(data)
            return
        }
        do {
            let stream = try inflater ?? ZlibStream(inflateWindowBits: 15)
            inflater = stream
            var input = frame.unmaskedData
            var output = context.channel.allocator.buffer(capacity: min(maxFrameBytes, max(256, input.readableBytes * 4)))
            try stream.inflate(&input, into: &output, limit: maxFrameBytes)
            if frame.fin {
                var tail = context.channel.allocator.buffer(bytes: [0x00, 0x00, 0xFF, 0xFF])
                try stream.inflate(&tail, into: &output, limit: maxFrameBytes)
                inflating = false
                if parameters.decompressNoContextTakeover || stream.ended {
                    inflater = nil
                }
            }
            context.fireChannelRead(
                wrapInboundOut(
                    WebSocketFrame(
                        fin: frame.fin,
                        rsv1: false,
                        rsv2: frame.rsv2,
                        rsv3: frame.rsv3,
                        opcode: frame.opcode,
                        maskKey: nil,
                        data: output
                    )
                )
            )
        } catch {
            failed = true
            inflater = nil
            context.fireErrorCaught(error)
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            // A frame with reserved bits set came from a peer that broke the protocol: it passes
            // unchanged, for this side to refuse.
            deflating = !(frame.rsv1 || frame.rsv2 || frame.rsv3) && (!frame.fin || frame.length >= Self.minimumCompressedBytes)
        case .continuation where deflating:
            break
        default:
            context.write(data, promise: promise)
            return
        }
        guard deflating else {
            context.write(data, promise: promise)
            return
        }
        do {
            let stream = try deflater ?? ZlibStream(deflateWindowBits: parameters.compressWindowBits)
            deflater = stream
            var output = context.channel.allocator.buffer(capacity: frame.length / 2 + 64)
            try stream.deflate(frame.data, into: &output)
            if frame.fin {
                // RFC 7692 §7.2.1: the sync flush's empty block (00 00 FF FF) is removed; the
                // receiver appends it again. When this last frame added nothing (the previous
                // frame's flush already ended the data), zlib writes no new marker, so an empty
                // stored block's first byte (00) stands in for it (§7.2.3.6).
                if output.readableBytes >= 4, output.getBytes(at: output.writerIndex - 4, length: 4) == [0x00, 0x00, 0xFF, 0xFF] {
                    output.moveWriterIndex(to: output.writerIndex - 4)
                } else if output.readableBytes == 0 {
                    output.writeInteger(UInt8(0))
                }
                deflating = false
                if parameters.compressNoContextTakeover { deflater = nil }
            }
            context.write(
                wrapOutboundOut(
                    WebSocketFrame(
                        fin: frame.fin,
                        rsv1: frame.opcode != .continuation,
                        rsv2: false,
                        rsv3: false,
                        opcode: frame.opcode,
                        maskKey: frame.maskKey,
                        data: output
                    )
                ),
                promise: promise
            )
        } catch {
            promise?.fail(error)
            context.fireErrorCaught(error)
        }
    }
}

/// One raw-DEFLATE zlib stream, compressing or decompressing, freed with its owner.
public final class ZlibStream {
    private let stream: UnsafeMutablePointer<z_stream>
    private let compressing: Bool
    /// The peer sent a final block: this stream cannot continue and must be replaced.
    public private(set) var ended = false

    private init(compressing: Bool, initialize: (UnsafeMutablePointer<z_stream>) -> Int32) throws(DeflateFailure) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        self.compressing = compressing
        guard initialize(stream) == Z_OK else {
            stream.deallocate()
            throw .invalidData
        }
    }

    public convenience init(inflateWindowBits bits: Int32) throws(DeflateFailure) {
        try self.init(compressing: false) { portico_inflateInit2($0, -bits) }
    }

    /// Compression level 6 (zlib's default) and memory level 8 (zlib's default, about 128 KiB).
    public convenience init(deflateWindowBits bits: Int32) throws(DeflateFailure) {
        try self.init(compressing: true) { portico_deflateInit2($0, 6, -bits, 8) }
    }

    deinit {
        if compressing { deflateEnd(stream) } else { inflateEnd(stream) }
        stream.deallocate()
    }

    /// Inflates all of `input` into `output`; more than `limit` bytes of output is `tooBig`.
    public func inflate(_ input: inout ByteBuffer, into output: inout ByteBuffer, limit: Int) throws(DeflateFailure) {
        let stream = self.stream
        var status = Z_OK
        input.withUnsafeMutableReadableBytes { inBytes in
            stream.pointee.next_in = inBytes.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_in = UInt32(inBytes.count)
            repeat {
                // Never more than one byte past the limit, however much the buffer could take.
                let room = limit + 1 - output.readableBytes
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: min(room, 4096)) { outBytes in
                    stream.pointee.next_out = outBytes.baseAddress?.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = UInt32(min(outBytes.count, room))
                    status = CZlib.inflate(stream, Z_SYNC_FLUSH)
                    return min(outBytes.count, room) - Int(stream.pointee.avail_out)
                }
            } while status == Z_OK && output.readableBytes <= limit
                && (stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0)
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        if output.readableBytes > limit { throw .tooBig }
        switch status {
        case Z_OK, Z_BUF_ERROR:
            break
        case Z_STREAM_END:
            ended = true
        default:
            throw .invalidData
        }
    }

    /// Deflates all of `input` into `output`, ending on a byte boundary (sync flush).
    public func deflate(_ input: ByteBuffer, into output: inout ByteBuffer) throws(DeflateFailure) {
        let stream = self.stream
        var status = Z_OK
        input.withUnsafeReadableBytes { inBytes in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inBytes.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = UInt32(inBytes.count)
            repeat {
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: 1024) { outBytes in
                    stream.pointee.next_out = outBytes.baseAddress?.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = UInt32(outBytes.count)
                    status = CZlib.deflate(stream, Z_SYNC_FLUSH)
                    return outBytes.count - Int(stream.pointee.avail_out)
                }
            } while status == Z_OK && stream.pointee.avail_out == 0
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        guard status == Z_OK || status == Z_BUF_ERROR else { throw .invalidData }
    }
}
