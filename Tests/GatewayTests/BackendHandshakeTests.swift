import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PorticoTestSupport
import Testing

@testable import gateway

/// The backend handshake on the socket's bytes: the response head the gateway reads
/// (`BackendResponse`; the request head it writes is `HTTPHeadTests`'), the handler that does both
/// and hands on what the backend sent after its 101, and what a client is answered when the
/// backend refuses or answers wrongly.
@Suite struct BackendHandshakeTests {
    static let switching =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: abc=\r\nSec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions:  x-two \t\r\n\r\n"

    /// Feeds `text` to one parser in pieces of `piece` bytes, as reads would bring it.
    static func parse(_ text: String, piece: Int) -> BackendResponse.Parsed {
        let bytes = Array(text.utf8)
        var parser = BackendResponse()
        var buffer = ByteBuffer()
        var parsed = BackendResponse.Parsed.incomplete
        for start in stride(from: 0, to: bytes.count, by: piece) {
            buffer.writeBytes(bytes[start..<min(start + piece, bytes.count)])
            parsed = parser.parse(buffer)
            if case .incomplete = parsed { continue }
            return parsed
        }
        return parsed
    }

    @Test(arguments: [1, 2, 7, 1000])
    func a101IsReadHoweverItIsSplit(piece: Int) throws {
        let frame = "\u{81}\u{02}hi"
        guard case .switching(let head, let headBytes) = Self.parse(Self.switching + frame, piece: piece) else {
            Issue.record("not read as a 101")
            return
        }
        #expect(head.status == .switchingProtocols)
        #expect(head.version == .http1_1)
        #expect(headBytes == Self.switching.utf8.count, "the frame after the head is not part of it")
        #expect(head.headers.first(name: "sec-websocket-accept") == "abc=")
        #expect(head.headers[canonicalForm: "Sec-WebSocket-Extensions"] == ["permessage-deflate", "x-two"])
    }

    @Test func aRefusalIsAnsweredOnItsStatusLine() {
        guard case .refused(let head) = Self.parse("HTTP/1.1 403 Forbidden\r\n", piece: 5) else {
            Issue.record("not read as a refusal")
            return
        }
        #expect(head.status.code == 403)
        #expect(head.status.reasonPhrase == "Forbidden")
        guard case .refused(let custom) = Self.parse("HTTP/1.0 599 Not Today \u{E9}\r\n", piece: 100) else {
            Issue.record("not read as a refusal")
            return
        }
        #expect(custom.status.code == 599)
        #expect(custom.status.reasonPhrase == "Not Today ??", "kept ASCII: it may be quoted in a refusal")
        guard case .invalid = Self.parse("HTTP/1.1 599 Very\u{7}\r\n", piece: 100) else {
            Issue.record("a control character in the reason was read")
            return
        }
    }

    @Test(
        arguments: [
            ("HTTP/2 101 Switching\r\n", "not HTTP/1.x"),
            ("HTTP/1.1 1010 Switching\r\n", "not HTTP/1.x"),
            ("HTTP/1.1 101Switching\r\n", "not HTTP/1.x"),
            ("HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n", "malformed"),
            ("HTTP/1.1 101 OK\r\nName : x\r\n\r\n", "malformed"),
            ("HTTP/1.1 101 OK\r\nName: x\r\n continued\r\n\r\n", "malformed"),
            ("HTTP/1.1 101 OK\r\nName: a\u{0}b\r\n\r\n", "malformed"),
            ("HTTP/1.1 101 OK\r\nName: a\nInjected: b\r\n\r\n", "malformed"),
            ("HTTP/1.1 101 OK\r\n: x\r\n\r\n", "malformed"),
            ("HTTP/1.1 101 OK\r\n" + String(repeating: "A: b\r\n", count: 129) + "\r\n", "header lines"),
        ]
    )
    func aMalformedHeadIsInvalid(text: String, why: String) {
        guard case .invalid(let reason) = Self.parse(text, piece: 3) else {
            Issue.record("\(text.debugDescription) was not refused")
            return
        }
        #expect(reason.contains(why), "\(reason)")
    }

    @Test func aBareLineFeedIsNoLineEnd() {
        guard case .incomplete = Self.parse("HTTP/1.1 101 OK\nUpgrade: websocket\n\n", piece: 100) else {
            Issue.record("read with bare LFs")
            return
        }
    }

    /// The handler writes its request when connected, answers on the 101, and hands the bytes the
    /// backend sent after it on only once the switch that the 101 started has finished — never
    /// into the middle of it.
    @Test func bytesAfterThe101ReachTheRelayAfterTheSwitch() throws {
        let channel = EmbeddedChannel()
        let outcome = HandshakeOutcome(channel.eventLoop.makePromise(of: HTTPResponseHead.self))
        let handler = BackendHandshakeHandler(request: ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"), outcome: outcome)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: written) == "GET / HTTP/1.1\r\n\r\n")

        let events = Events()
        outcome.futureResult.assumeIsolated().whenSuccess { head in
            // What `Backend.connect` does on the 101: the relay in, the handshake handler out.
            #expect(head.status == .switchingProtocols)
            try! channel.pipeline.syncOperations.addHandler(events)
            channel.pipeline.syncOperations.removeHandler(handler, promise: nil)
            events.log.append("switched")
        }
        try channel.writeInbound(ByteBuffer(string: Self.switching + "\u{81}\u{02}hi"))
        #expect(events.log == ["switched", "read \u{81}\u{02}hi"])
        try channel.writeInbound(ByteBuffer(string: "more"))
        #expect(events.log.last == "read more", "later reads go straight to the relay")
        _ = try channel.finish()
    }

    @Test func aBackendThatClosesDuringTheHandshakeIsUnreachable() throws {
        let channel = EmbeddedChannel()
        let outcome = HandshakeOutcome(channel.eventLoop.makePromise(of: HTTPResponseHead.self))
        try channel.pipeline.syncOperations.addHandler(BackendHandshakeHandler(request: ByteBuffer(), outcome: outcome))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 101 Swi"))
        var failure: (any Error)?
        outcome.futureResult.assumeIsolated().whenFailure { failure = $0 }
        _ = try channel.finish()
        #expect(failure is Backend.Failure)
    }

    /// A response head that never ends is cut off at 64 KiB, not buffered without bound.
    @Test func aResponseHeadOver64KiBIsAProtocolError() throws {
        let channel = EmbeddedChannel()
        let outcome = HandshakeOutcome(channel.eventLoop.makePromise(of: HTTPResponseHead.self))
        try channel.pipeline.syncOperations.addHandler(BackendHandshakeHandler(request: ByteBuffer(), outcome: outcome))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var failure: (any Error)?
        outcome.futureResult.assumeIsolated().whenFailure { failure = $0 }
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nX-Long: "))
        for _ in 0..<15 where failure == nil { try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "a"), count: 4096)) }
        #expect(failure == nil, "60 KiB is still read")
        for _ in 0..<2 where failure == nil { try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "a"), count: 4096)) }
        guard case .protocolViolation(let why) = failure as? Backend.Failure else {
            Issue.record("not a protocol error: \(String(describing: failure))")
            return
        }
        #expect(why.contains("65536"))
        _ = try channel.finish()
    }

    /// A request the gateway will not send is refused like an unreachable backend, but the endpoint
    /// is not to blame: it does not count towards suspending it.
    @Test func anUnsendableRequestDoesNotCountAgainstTheEndpoint() {
        #expect(!Backend.Failure.unsendable.isConnectFailure)
        #expect(Backend.Failure.unsendable.refusal.code == "backend_unreachable")
        #expect(Backend.Failure.unsendable.refusal.status == .badGateway)
        #expect(Backend.Failure.unreachable("x").isConnectFailure)
    }

    /// Over real sockets: what a client is answered when the backend refuses, answers a 101 with the
    /// wrong `Sec-WebSocket-Accept`, or answers something that is not HTTP.
    @Test func aBackendsRefusalOrBadAnswerIsA502ThatSaysWhich() async throws {
        let refusing = try ServerSocket { _ in Array("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".utf8) }
        let wrongKey = try ServerSocket { _ in
            Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n".utf8)
        }
        let garbled = try ServerSocket { _ in Array("SSH-2.0-OpenSSH_9.2\r\n".utf8) }
        try await InProcessStack.run { stack in
            for (name, backend) in [("Refusing", refusing), ("WrongKey", wrongKey), ("Garbled", garbled)] {
                try await stack.serve(name, endpoint: "ws://127.0.0.1:\(backend.port)")
            }
            for (path, code, message) in [
                ("/refusing/1", "backend_rejected", "with 403 Forbidden"), ("/wrongkey/1", "backend_protocol_error", "Sec-WebSocket-Accept"),
                ("/garbled/1", "backend_protocol_error", "not HTTP/1.x"),
            ] {
                let (head, body) = try await RawHandshake.performReadingBody(stack.gatewayURL, path: "\(path)?access_token=\(stack.token)")
                #expect(head.status == .badGateway, "\(path)")
                #expect(body["code"].string == code, "\(path)")
                #expect(body["message"].string?.contains(message) == true, "\(path): \(body["message"].string ?? "")")
            }
        }
    }
}

private final class Events: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    var log: [String] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        log.append("read " + String(buffer: unwrapInboundIn(data)))
    }
}
