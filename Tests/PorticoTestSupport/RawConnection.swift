import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A plain TCP connection that sends exactly the bytes a test gives it — malformed HTTP, one byte
/// at a time, hand-made WebSocket frames — and keeps every byte it receives and whether the peer
/// closed, so a test sees what no HTTP or WebSocket library would let through.
package final class RawConnection: Sendable {
    package let channel: any Channel
    private let state: NIOLockedValueBox<(bytes: [UInt8], closed: Bool)>

    package init(_ url: String) async throws {
        let components = URL(string: url)!
        let state = NIOLockedValueBox<(bytes: [UInt8], closed: Bool)>(([], false))
        self.state = state
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(state: state)) }
            }
            .connect(host: components.host!, port: components.port!).get()
    }

    package func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    package func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    package var received: [UInt8] { state.withLockedValue { $0.bytes } }
    package var text: String { String(decoding: received, as: UTF8.self) }
    package var isClosed: Bool { state.withLockedValue { $0.closed } }

    /// Whether the peer closed the connection within `seconds`.
    package func closed(within seconds: Double) async -> Bool {
        await eventually(within: seconds, every: .milliseconds(20)) { self.isClosed }
    }

    /// The response's status line and headers, and its body parsed as JSON.
    package var response: (head: String, json: JSON) {
        let text = self.text
        guard let split = text.range(of: "\r\n\r\n") else { return (text, .null) }
        return (String(text[..<split.lowerBound]), JSON(parsing: String(text[split.upperBound...])))
    }

    package func close() { channel.close(promise: nil) }

    /// A WebSocket handshake request for `path`, with `extra` header lines.
    package static func upgradeRequest(_ path: String, extra: [String] = []) -> String {
        ([
            "GET \(path) HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
        ] + extra).joined(separator: "\r\n") + "\r\n\r\n"
    }

    /// One frame as a client writes it: `masked` (as RFC 6455 requires of clients) or not, with the
    /// given first byte (FIN, RSV bits, opcode). Payloads under 126 bytes.
    package static func frame(firstByte: UInt8, payload: [UInt8], masked: Bool = true) -> [UInt8] {
        precondition(payload.count < 126)
        guard masked else { return [firstByte, UInt8(payload.count)] + payload }
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        return [firstByte, 0x80 | UInt8(payload.count)] + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    }

    /// The close frames in what was received after the 101 (unmasked, as a server sends): their codes.
    package var closeCodes: [UInt16] {
        let text = self.text
        guard let end = text.range(of: "\r\n\r\n") else { return [] }
        return PorticoTestSupport.closeCodes(received.dropFirst(text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound)))
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let state: NIOLockedValueBox<(bytes: [UInt8], closed: Bool)>
        init(state: NIOLockedValueBox<(bytes: [UInt8], closed: Bool)>) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            state.withLockedValue { $0.bytes += buffer.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLockedValue { $0.closed = true }
        }
    }
}
