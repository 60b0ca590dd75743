import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import WebSocketKit

/// A WebSocket client from websocket-kit (not Portico's code), collecting what it receives.
package final class TestClient: @unchecked Sendable {
    private let box = NIOLockedValueBoxCompat<WebSocket?>(nil)
    private let received = NIOLockedValueBoxCompat<[String]>([])
    private let binaries = NIOLockedValueBoxCompat<[[UInt8]]>([])

    package var socket: WebSocket { box.value! }
    package var texts: [String] { received.value }
    package var binary: [[UInt8]] { binaries.value }

    /// Connects; throws `WebSocketClient.Error.invalidResponseStatus` with the gateway's answer on refusal.
    package static func connect(
        _ url: String,
        headers: HTTPHeaders = [:],
        maxFrameSize: Int = 1 << 24,
        tls: TLSConfiguration? = nil
    ) async throws -> TestClient {
        let client = TestClient()
        let promise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Void.self)
        WebSocket.connect(
            to: url,
            headers: headers,
            configuration: .init(tlsConfiguration: tls, maxFrameSize: maxFrameSize),
            on: MultiThreadedEventLoopGroup.singleton
        ) { socket in
            // websocket-kit wants its callbacks set on the socket's event loop: here.
            socket.onText { _, text in client.received.mutate { $0.append(text) } }
            socket.onBinary { _, buffer in client.binaries.mutate { $0.append(Array(buffer.readableBytesView)) } }
            client.box.mutate { $0 = socket }
            promise.succeed()
        }.whenFailure { promise.fail($0) }
        try await promise.futureResult.get()
        return client
    }

    /// The HTTP status of a refused handshake.
    package static func refusal(_ url: String, headers: HTTPHeaders = [:]) async -> UInt? {
        do {
            let client = try await connect(url, headers: headers)
            try? await client.socket.close()
            return 101
        } catch WebSocketClient.Error.invalidResponseStatus(let head) {
            return head.status.code
        } catch {
            return nil
        }
    }

    /// Waits until `condition` holds for what was received, at most `seconds`.
    package func waitFor(seconds: Double = 10, _ condition: (TestClient) -> Bool) async -> Bool {
        await eventually(within: seconds, every: .milliseconds(20)) { condition(self) }
    }

    /// The close code once the connection has closed (nil if it is still open after `seconds`).
    package func closeCode(within seconds: Double) async -> WebSocketErrorCode? {
        _ = await waitFor(seconds: seconds) { $0.socket.isClosed }
        return socket.isClosed ? socket.closeCode : nil
    }
}

/// A small lock box (tests only).
package final class NIOLockedValueBoxCompat<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    package init(_ value: Value) { stored = value }
    package var value: Value {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
    package func mutate(_ body: (inout Value) -> Void) {
        lock.lock()
        body(&stored)
        lock.unlock()
    }
}
