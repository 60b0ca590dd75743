import Foundation
import Hummingbird
import HummingbirdWSCompression
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import PorticoTestSupport
import Testing
import WSClient
import WSCompression

/// permessage-deflate through the gateway (in process, `InProcessStack`), each side negotiated on its own: clients and
/// backends from hummingbird's swift-websocket (compressing), websocket-kit and the sample echo
/// backend (not compressing), and raw frames checked against RFC 7692's examples.
@Suite(.serialized) struct DeflateRelayTests {
    static let messages: [WebSocketMessage] = [
        .text("short"),
        .text(String(repeating: "every message crosses the gateway whole; ", count: 8000)),
        .binary(ByteBuffer(bytes: (0..<100_000).map { _ in UInt8.random(in: 0...255) })),
        .text(String(repeating: "é", count: 2000)),
        .binary(ByteBuffer(repeating: 7, count: 300_000)),
    ]

    /// Through a compressing backend, with the client compressing or not and the gateway's offer
    /// to backends on or off: every message comes back whole, and the backend's greeting names
    /// the extensions the gateway offered it.
    @Test(arguments: [(client: true, backendOffer: true), (client: false, backendOffer: true), (client: true, backendOffer: false)])
    func throughACompressingBackend(client: Bool, backendOffer: Bool) async throws {
        try await DeflatingBackend.run { backendPort in
            try await InProcessStack.run(extra: ["GATEWAY_BACKEND_PERMESSAGE_DEFLATE": "\(backendOffer)"]) { stack in
                try await stack.deflatingAPI(backendPort)
                let echoed = try await Self.exchange(
                    url: "\(stack.gatewayURL)/deflating/1.0.0?access_token=\(stack.token)",
                    deflate: client,
                    greeting: true
                )
                #expect(echoed.first == .text(backendOffer ? "extensions: permessage-deflate" : "extensions: "))
                #expect(Array(echoed.dropFirst()) == Self.messages)
            }
        }
    }

    @Test func compressingClientAndPlainBackend() async throws {
        try await InProcessStack.run { stack in
            let echoed = try await Self.exchange(url: "\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)", deflate: true)
            #expect(echoed == Self.messages)
        }
    }

    /// The bytes on the wire: the RFC's compressed "Hello" frames are inflated, a long message comes
    /// back compressed (RSV1, shorter), invalid DEFLATE data closes with 1007, and a declined offer
    /// or a switched-off client side leaves the extension out of the 101. The backend (which joins
    /// fragments into one message) is the compressing one, so both sides' codecs are crossed.
    @Test func framesOnTheWire() async throws {
        try await DeflatingBackend.run { backendPort in
            try await InProcessStack.run { stack in
                try await stack.deflatingAPI(backendPort)
                let path = "/deflating/1.0.0?access_token=\(stack.token)"
                let socket = try RawWebSocket(gatewayURL: stack.gatewayURL, path: path, extensions: "permessage-deflate; client_max_window_bits")
                #expect(socket.responseHeaders["sec-websocket-extensions"] == "permessage-deflate")
                #expect(String(decoding: try socket.receiveMessage(), as: UTF8.self) == "extensions: permessage-deflate")
                // RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello", then "Hello" again referring to the first.
                try socket.send(opcode: 0x1, rsv1: true, payload: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
                try socket.send(opcode: 0x1, rsv1: true, payload: [0xF2, 0x00, 0x11, 0x00, 0x00])
                // §7.2.3.3: one message in two compressed fragments.
                try socket.send(opcode: 0x1, fin: false, rsv1: true, payload: [0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF])
                try socket.send(opcode: 0x0, rsv1: false, payload: [0xCA, 0xC9, 0xC9, 0x07, 0x00])
                for _ in 0..<3 {
                    let frame = try socket.receive()
                    #expect(frame.rsv1 == false, "short messages go back uncompressed")
                    #expect(String(decoding: frame.payload, as: UTF8.self) == "Hello")
                }
                // An uncompressed message is allowed too; this long one comes back compressed.
                try socket.send(opcode: 0x1, rsv1: false, payload: Array(String(repeating: "abc", count: 1000).utf8))
                let compressed = try socket.receive()
                #expect(compressed.rsv1 == true)
                #expect(compressed.fin == true)
                #expect(compressed.payload.count < 100)
                // Not DEFLATE at all.
                try socket.send(opcode: 0x2, rsv1: true, payload: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
                let close = try socket.receive()
                #expect(close.opcode == 0x8)
                #expect(close.payload.prefix(2) == [0x03, 0xEF], "1007")

                let declined = try RawWebSocket(gatewayURL: stack.gatewayURL, path: path, extensions: "permessage-deflate; server_max_window_bits=8")
                #expect(declined.status == 101)
                #expect(declined.responseHeaders["sec-websocket-extensions"] == nil)
            }
        }
        // A fragmented message whose last fragment is empty, echoed frame by frame by the plain
        // echo backend: the gateway's last compressed frame must still end the DEFLATE data (00).
        try await InProcessStack.run { stack in
            let socket = try RawWebSocket(
                gatewayURL: stack.gatewayURL,
                path: "/echowebsocket/1.0.0?access_token=\(stack.token)",
                extensions: "permessage-deflate"
            )
            try socket.send(opcode: 0x1, fin: false, rsv1: false, payload: Array(String(repeating: "xyz", count: 100).utf8))
            try socket.send(opcode: 0x0, rsv1: false, payload: [])
            let first = try socket.receive()
            #expect(first.rsv1 && !first.fin)
            #expect(first.payload.suffix(4) == [0x00, 0x00, 0xFF, 0xFF], "a flushed, unfinished message")
            let last = try socket.receive()
            #expect(last.fin && !last.rsv1 && last.opcode == 0x0)
            #expect(last.payload == [0x00])
        }
        try await InProcessStack.run(extra: ["GATEWAY_CLIENT_PERMESSAGE_DEFLATE": "false"]) { stack in
            let socket = try RawWebSocket(
                gatewayURL: stack.gatewayURL,
                path: "/echowebsocket/1.0.0?access_token=\(stack.token)",
                extensions: "permessage-deflate"
            )
            #expect(socket.status == 101)
            #expect(socket.responseHeaders["sec-websocket-extensions"] == nil)
        }
    }

    /// Sends every message with swift-websocket's client and returns what came back, in order
    /// (after the backend's greeting, when it sends one).
    static func exchange(url: String, deflate: Bool, greeting: Bool = false) async throws -> [WebSocketMessage] {
        let received = NIOLockedValueBoxCompat<[WebSocketMessage]>([])
        let extensions: [WebSocketExtensionFactory] =
            deflate
            ? [.perMessageDeflate(maxDecompressedFrameSize: 1 << 22, minFrameSizeToCompress: 16)] : []
        let expected = messages.count + (greeting ? 1 : 0)
        try await WebSocketClient.connect(
            url: url,
            configuration: .init(maxFrameSize: 1 << 22, extensions: extensions),
            logger: Logger(label: "test-client")
        ) { inbound, outbound, _ in
            for message in messages {
                switch message {
                case .text(let text): try await outbound.write(.text(text))
                case .binary(let buffer): try await outbound.write(.binary(buffer))
                }
            }
            for try await message in inbound.messages(maxSize: 1 << 22) {
                received.mutate { $0.append(message) }
                if received.value.count >= expected { break }
            }
        }
        return received.value
    }
}

extension PorticoStack {
    /// Publishes API "Deflating" 1.0.0 on /deflating, backed by a `DeflatingBackend`, subscribes
    /// the stack's application and waits for the gateway.
    func deflatingAPI(_ backendPort: Int) async throws {
        let id = try await createAPI(name: "Deflating", context: "/deflating", version: "1.0.0", endpoint: "ws://127.0.0.1:\(backendPort)")
        try await lifecycle(id, "Publish")
        try await subscribe(applicationID, to: id)
        try await settle()
    }
}

/// A backend built with hummingbird-websocket, permessage-deflate on: its first message names the
/// extensions the gateway offered, then it echoes every message.
enum DeflatingBackend {
    static func run(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let port = BoundPort()
        // Cancelling the server at the end of a test makes it log errors about the cancellation.
        var logger = Logger(label: "deflating-backend")
        logger.logLevel = .critical
        let app = Application(
            router: Router(),
            server: .http1WebSocketUpgrade(
                configuration: .init(
                    ws: .init(
                        maxFrameSize: 1 << 22,
                        extensions: [.perMessageDeflate(maxDecompressedFrameSize: 1 << 22, minFrameSizeToCompress: 16)],
                        autoPing: .disabled
                    )
                )
            ) { request, _, _ in
                let offered = request.headerFields[.secWebSocketExtensions] ?? ""
                return .upgrade([:]) { inbound, outbound, _ in
                    try await outbound.write(.text("extensions: \(offered)"))
                    for try await message in inbound.messages(maxSize: 1 << 22) {
                        switch message {
                        case .text(let text): try await outbound.write(.text(text))
                        case .binary(let buffer): try await outbound.write(.binary(buffer))
                        }
                    }
                }
            },
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.set(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            let bound = try await port.wait()
            try await body(bound)
            group.cancelAll()
        }
    }
}
