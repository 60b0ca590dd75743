import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PorticoTestSupport
import Testing
import WSClient
import WSCompression

@testable import PorticoCore
@testable import gateway

/// The close codes each side gets when the other side breaks a limit or the protocol, as
/// docs/gateway.md promises them: the sender gets 1009 or 1002, the other side 1001 — never 1011,
/// which means the backend failed. In process (`InProcessStack`).
@Suite struct RelayCloseCodeTests {
    /// A backend whose message is over the limit gets 1009; the client gets 1001. It got 1011: the
    /// backend's socket closing after the gateway's own 1009 was taken for the backend going away;
    /// and when the frame came with the 101, the 1009 was written through the backend's HTTP
    /// decoder, which stopped the process.
    @Test(arguments: [false, true])
    func aBackendsOversizedMessageIsA1001ForTheClient(withThe101: Bool) async throws {
        let frame: [UInt8] = [0x82, 126, 0x07, 0xD0] + [UInt8](repeating: 0x42, count: 2000)
        let backend = try ServerSocket { request in
            Array(ServerSocket.switchingProtocols(to: request).utf8) + (withThe101 ? frame : [])
        }
        try await InProcessStack.run { stack in
            try await stack.serve("Big", endpoint: "ws://127.0.0.1:\(backend.port)", extra: #""limits":{"maxMessageBytes":1024}"#)
            let connection = try await stack.open("/big/1")
            if !withThe101 {
                // After the relay is linked, and the backend keeps sending after its oversized frame:
                // the gateway drains it instead of resetting the connection under its 1009.
                try await backend.sendToAll(frame)
                for _ in 0..<20 { try? await backend.sendToAll([UInt8](repeating: 0x42, count: 65_536)) }
            }
            #expect(await connection.closed(within: 5))
            #expect(connection.closeCodes == [1001], "\(connection.closeCodes)")
            #expect(
                await eventually(within: 5) { closeCodes(backend.received).contains(1009) },
                "the backend is told 1009: \(closeCodes(backend.received))"
            )
        }
    }

    /// A backend that sends a ping longer than 125 bytes gets 1002; the client gets 1001.
    @Test func aBackendsBrokenControlFrameIsA1001ForTheClient() async throws {
        let payload = [UInt8](repeating: 0x61, count: 200)
        let backend = try ServerSocket { request in
            Array(ServerSocket.switchingProtocols(to: request).utf8) + [0x89, 126, 0x00, 0xC8] + payload
        }
        try await InProcessStack.run { stack in
            try await stack.serve("Pinger", endpoint: "ws://127.0.0.1:\(backend.port)")
            let connection = try await stack.open("/pinger/1")
            #expect(await connection.closed(within: 5))
            #expect(connection.closeCodes == [1001], "\(connection.closeCodes)")
            #expect(await eventually(within: 5) { frameOpcodes(backend.received).contains(0x8) }, "the backend is sent a close")
        }
    }

    /// The message limit applies to messages as the application sees them: a client that
    /// compresses (permessage-deflate, as Python's `websockets` does by default) may send a message
    /// of exactly the limit even when its compressed frame is larger (random bytes do not shrink).
    @Test func theLimitAppliesAfterDecompression() async throws {
        try await InProcessStack.run { stack in
            var generator = SystemRandomNumberGenerator()
            let message = ByteBuffer(bytes: (0..<1_048_576).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let echoed = NIOLockedValueBox<ByteBuffer?>(nil)
            try await WebSocketClient.connect(
                url: "\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)",
                configuration: .init(
                    maxFrameSize: 1 << 22,
                    extensions: [.perMessageDeflate(maxDecompressedFrameSize: 1 << 22, minFrameSizeToCompress: 16)]
                ),
                logger: Logger(label: "test-client")
            ) { inbound, outbound, _ in
                try await outbound.write(.binary(message))
                for try await received in inbound.messages(maxSize: 1 << 22) {
                    if case .binary(let buffer) = received { echoed.withLockedValue { $0 = buffer } }
                    break
                }
            }
            #expect(echoed.withLockedValue { $0 } == message, "the 1 MiB message came back whole")
        }
    }
}
