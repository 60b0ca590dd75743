import Foundation
import Hummingbird
import Logging
import NIOHTTP1
import PorticoTestSupport
import Testing

/// An OTLP/HTTP receiver: it keeps the bodies of the trace exports it is sent (protobuf, in which
/// span names and attribute strings appear as they are).
enum TraceReceiver {
    final class Received: Sendable {
        private let bodies = NIOLockedValueBoxCompat<[UInt8]>([])
        func append(_ bytes: [UInt8]) { bodies.mutate { $0 += bytes } }
        func contains(_ text: String) -> Bool { contains(Array(text.utf8)) }
        func contains(_ bytes: [UInt8]) -> Bool {
            let all = bodies.value
            guard all.count >= bytes.count, !bytes.isEmpty else { return false }
            return (0...(all.count - bytes.count)).contains { all[$0..<($0 + bytes.count)].elementsEqual(bytes) }
        }
    }

    static func run(_ body: @escaping @Sendable (_ url: String, _ received: Received) async throws -> Void) async throws {
        let port = BoundPort()
        let received = Received()
        var logger = Logger(label: "trace-receiver")
        logger.logLevel = .critical
        let router = Router()
        router.post("v1/traces") { request, _ in
            let buffer = try await request.body.collect(upTo: 16 << 20)
            received.append(Array(buffer.readableBytesView))
            return Response(status: .ok, headers: [.contentType: "application/x-protobuf"])
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.set(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            let bound = try await port.wait()
            try await body("http://127.0.0.1:\(bound)", received)
            group.cancelAll()
        }
    }
}

@Suite(.serialized) struct TracingProcessTests {
    /// With PORTICO_TRACING on, REST requests and handshakes are exported as spans; a handshake's
    /// span continues the client's trace and the backend gets the trace's context in its place.
    @Test func spansOfRequestsAndHandshakesAreExported() async throws {
        try await TraceReceiver.run { url, received in
            try await GatewayStack.run(extra: [
                "PORTICO_TRACING": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_BSP_SCHEDULE_DELAY": "100",
            ]) { stack in
                let traceID = "0af7651916cd43dd8448eb211c80319c"
                let client = try await TestClient.connect(
                    "\(stack.gatewayURL)/echowebsocket/1.0.0/inspect?access_token=\(stack.token)",
                    headers: HTTPHeaders([("traceparent", "00-\(traceID)-b7ad6b7169203331-01")])
                )
                #expect(await client.waitFor { !$0.texts.isEmpty })
                let first = try #require(client.texts.first)
                let forwarded = try #require(JSON(parsing: first)["headers"]["traceparent"].string)
                #expect(
                    forwarded.hasPrefix("00-\(traceID)-") && !forwarded.contains("b7ad6b7169203331"),
                    "the backend's parent is the gateway's span: \(forwarded)"
                )
                try await client.socket.close(code: .normalClosure)

                let traceBytes = stride(from: 0, to: traceID.count, by: 2).map { offset -> UInt8 in
                    let start = traceID.index(traceID.startIndex, offsetBy: offset)
                    return UInt8(traceID[start..<traceID.index(start, offsetBy: 2)], radix: 16)!
                }
                await eventually(within: 15, every: .milliseconds(100)) {
                    received.contains("websocket handshake") && received.contains("portico-gateway") && received.contains(traceBytes)
                        && received.contains("portico-publisher") && received.contains("/api/am/publisher/v4/apis")
                        && received.contains(stack.apiID)
                }
                #expect(
                    received.contains("websocket handshake") && received.contains(traceBytes) && received.contains(stack.apiID),
                    "the gateway's handshake span, in the client's trace, naming the API"
                )
                #expect(received.contains("portico-publisher") && received.contains("/api/am/publisher/v4/apis"), "the publisher's request spans")
                #expect(received.contains("portico-devportal"))
            }
        }
    }

    /// Off by default: nothing is exported, and a client's traceparent reaches the backend untouched.
    @Test func offByDefault() async throws {
        try await TraceReceiver.run { url, received in
            try await GatewayStack.run(extra: ["OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_BSP_SCHEDULE_DELAY": "100"]) { stack in
                let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                let client = try await TestClient.connect(
                    "\(stack.gatewayURL)/echowebsocket/1.0.0/inspect?access_token=\(stack.token)",
                    headers: HTTPHeaders([("traceparent", traceparent)])
                )
                #expect(await client.waitFor { !$0.texts.isEmpty })
                #expect(client.texts.first?.contains(traceparent) == true)
                await pause(.milliseconds(500))
                #expect(!received.contains("websocket handshake") && !received.contains("portico-publisher"))
            }
        }
    }
}
