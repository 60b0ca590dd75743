import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP listener on 127.0.0.1. Without `answer` it accepts connections and never says a word: a
/// backend that hangs. With it, it reads each request head and writes what `answer` makes of it,
/// in one write, then stays silent, keeping what it is sent afterwards in `received`.
package final class ServerSocket: Sendable {
    package let channel: any Channel
    package var port: Int { channel.localAddress?.port ?? 0 }
    private let afterAnswer = NIOLockedValueBox<[UInt8]>([])
    private let accepted = NIOLockedValueBox<[any Channel]>([])
    /// The bytes connections sent after their request was answered.
    package var received: [UInt8] { afterAnswer.withLockedValue { $0 } }

    package init(answer: (@Sendable (String) -> [UInt8])? = nil) throws {
        let afterAnswer = self.afterAnswer
        let accepted = self.accepted
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0.append(channel) }
                guard let answer else { return channel.eventLoop.makeSucceededVoidFuture() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Answerer(answer: answer, afterAnswer: afterAnswer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    deinit { channel.close(promise: nil) }

    /// Writes `bytes` to every connection still open.
    package func sendToAll(_ bytes: [UInt8]) async throws {
        for child in accepted.withLockedValue({ $0 }) where child.isActive {
            try await child.writeAndFlush(ByteBuffer(bytes: bytes)).get()
        }
    }

    /// The 101 that completes the WebSocket handshake `request` opens.
    package static func switchingProtocols(to request: String) -> String {
        let key =
            request.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? ""
        let accept = Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
        return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n"
    }

    final class Answerer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let answer: @Sendable (String) -> [UInt8]
        let afterAnswer: NIOLockedValueBox<[UInt8]>
        private var request = ""
        private var answered = false

        init(answer: @escaping @Sendable (String) -> [UInt8], afterAnswer: NIOLockedValueBox<[UInt8]>) {
            self.answer = answer
            self.afterAnswer = afterAnswer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            guard !answered else {
                afterAnswer.withLockedValue { $0 += bytes.readableBytesView }
                return
            }
            request += String(buffer: bytes)
            guard request.contains("\r\n\r\n") else { return }
            answered = true
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: answer(request))), promise: nil)
        }
    }
}

/// The frames in `bytes`, masked or not (unmasked here), as long as their payloads are under 126
/// bytes (control frames and small messages); parsing stops at the first longer or partial one.
package func smallFrames(_ bytes: some Collection<UInt8>) -> [(opcode: UInt8, payload: [UInt8])] {
    let bytes = Array(bytes)
    var frames: [(opcode: UInt8, payload: [UInt8])] = []
    var offset = 0
    while offset + 2 <= bytes.count {
        let length = Int(bytes[offset + 1] & 0x7F)
        let masked = bytes[offset + 1] & 0x80 != 0
        let start = offset + 2 + (masked ? 4 : 0)
        guard length < 126, start + length <= bytes.count else { break }
        let key = masked ? Array(bytes[(offset + 2)..<start]) : [0, 0, 0, 0]
        frames.append((bytes[offset] & 0x0F, bytes[start..<(start + length)].enumerated().map { $0.element ^ key[$0.offset % 4] }))
        offset = start + length
    }
    return frames
}

/// The opcodes of the frames in `bytes` (`smallFrames`).
package func frameOpcodes(_ bytes: [UInt8]) -> [UInt8] {
    smallFrames(bytes).map(\.opcode)
}

/// The codes of the close frames in `bytes` (`smallFrames`).
package func closeCodes(_ bytes: some Collection<UInt8>) -> [UInt16] {
    smallFrames(bytes).compactMap { frame in
        frame.opcode == 0x8 && frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : nil
    }
}
