import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PorticoTestSupport
import Testing

@testable import PorticoCore
@testable import gateway

/// The relay without sockets: two `EmbeddedChannel`s on one loop, each with the pipeline the
/// gateway switches a real side to (`RelayPipeline`), linked as the handshake links them. Bytes go
/// in as a client or backend would send them; what comes out is the bytes the other side gets.
final class RelayPair {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let backend: EmbeddedChannel
    let connection: RelayedConnection
    let clientReads = ReadCounter()
    let backendReads = ReadCounter()

    init(
        policy: ConnectionPolicy = ConnectionPolicy(maxMessageBytes: 1 << 20),
        tokenLifetime: TimeInterval = 3600,
        closeOnExpiry: Bool = false,
        pingInterval: Int = 0,
        started: Bool = true
    ) throws {
        let settings = try GatewaySettings(
            source: SettingsSource(values: [
                "DATABASE_URL": "postgres://portico@127.0.0.1:1/portico", "GATEWAY_CONNECTION_LOG": "off",
            ])
        )
        let gateway = Gateway.build(settings: settings)
        let caller = Caller(
            jti: "jti",
            consumerKey: "key",
            applicationID: "app",
            applicationName: "App",
            subscriber: "dev",
            keyType: .production,
            expiresAt: Date().addingTimeInterval(tokenLifetime)
        )
        connection = RelayedConnection(
            record: HandshakeRecord(connectionID: "c1", path: "/echo/1", clientAddress: "127.0.0.1", userAgent: nil),
            caller: caller,
            apiID: "api",
            policy: policy,
            slot: nil,
            eventLoop: loop,
            gateway: gateway
        )
        client = EmbeddedChannel(loop: loop)
        backend = EmbeddedChannel(loop: loop)
        let clientRelay = RelayHandler(side: .client, connection: connection)
        let backendRelay = RelayHandler(side: .backend, connection: connection)
        for (channel, relay, reads) in [(client, clientRelay, clientReads), (backend, backendRelay, backendReads)] {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(reads)
            let decoder: any RemovableChannelHandler =
                relay.side == .client
                ? ByteToMessageHandler(HTTPRequestDecoder()) : ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
            try sync.addHandler(decoder)
            try RelayPipeline.switchToWebSocket(
                channel,
                relay: relay,
                httpDecoder: decoder,
                replacing: [],
                deflate: nil,
                maxMessageBytes: policy.maxMessageBytes
            )
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }
        loop.run()
        connection.client = clientRelay
        connection.backend = backendRelay
        guard started else { return }
        connection.start(closeOnExpiry: closeOnExpiry, leeway: 0, pingInterval: pingInterval)
        RelayHandler.link(client: clientRelay, backend: backendRelay)
    }

    /// A frame as a side sends it: masked from the client, as RFC 6455 requires, not from the backend.
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        switch payload.count {
        case ..<126: bytes.append(maskBit | UInt8(payload.count))
        case ..<65_536: bytes += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default: bytes += [maskBit | 127] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
        }
        guard masked else { return bytes + payload }
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        return bytes + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    }

    static func close(_ code: UInt16, _ reason: String = "") -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
    }

    func fromClient(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) throws {
        try client.writeInbound(ByteBuffer(bytes: Self.frame(opcode, payload, fin: fin, masked: true)))
        loop.run()
    }

    func fromBackend(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) throws {
        try backend.writeInbound(ByteBuffer(bytes: Self.frame(opcode, payload, fin: fin, masked: false)))
        loop.run()
    }

    /// Everything written to the channel since the last call.
    static func written(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return bytes
    }

    func toClient() throws -> [(opcode: UInt8, payload: [UInt8])] { smallFrames(try Self.written(client)) }
    func toBackend() throws -> [UInt8] { try Self.written(backend) }
}

/// Counts the reads the relay asks of its channel (autoRead is off: each read is the relay's decision).
final class ReadCounter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = Any
    private(set) var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

@Suite struct RelayPairTests {
    @Test func framesCrossBothWaysMaskedOnlyTowardsTheBackend() throws {
        let pair = try RelayPair()
        // The switch to WebSocket settles each side to one read per wake-up (`ReceiveBuffers`).
        #expect(try pair.client.getOption(.maxMessagesPerRead).wait() == 1)
        #expect(try pair.backend.getOption(.maxMessagesPerRead).wait() == 1)
        try pair.fromClient(0x1, Array("hello".utf8))
        let toBackend = try pair.toBackend()
        #expect(toBackend[1] & 0x80 != 0, "masked towards the backend")
        #expect(smallFrames(toBackend).map(\.payload) == [Array("hello".utf8)])
        try pair.fromBackend(0x2, [1, 2, 3])
        let toClient = try RelayPair.written(pair.client)
        #expect(toClient == [0x82, 3, 1, 2, 3], "unmasked towards the client, unchanged")
        try pair.fromClient(0x9, [7])
        #expect(frameOpcodes(try pair.toBackend()) == [0x9], "pings cross too")
        try pair.fromClient(0x1, Array("frag".utf8), fin: false)
        try pair.fromClient(0x0, Array("ment".utf8))
        #expect(smallFrames(try pair.toBackend()).map(\.opcode) == [0x1, 0x0], "fragments cross as they came")
    }

    /// The relay moves bytes: the backend's frames reach the client as read, several per read or
    /// one across reads; the client's reach the backend whole, masked with a key of the gateway's.
    @Test func framesAreForwardedAsBytesAndReMaskedTowardsTheBackend() throws {
        let pair = try RelayPair()
        let frames = RelayPair.frame(0x1, Array("one".utf8), masked: false) + RelayPair.frame(0x2, [9, 8], masked: false)
        try pair.backend.writeInbound(ByteBuffer(bytes: frames))
        pair.loop.run()
        #expect(try RelayPair.written(pair.client) == frames, "two frames in one read, unchanged")
        let split = RelayPair.frame(0x2, [UInt8](repeating: 7, count: 300), masked: false)
        try pair.backend.writeInbound(ByteBuffer(bytes: split[..<100]))
        pair.loop.run()
        #expect(try RelayPair.written(pair.client).isEmpty, "nothing of a frame until it is whole")
        try pair.backend.writeInbound(ByteBuffer(bytes: split[100...]))
        pair.loop.run()
        #expect(try RelayPair.written(pair.client) == split)

        var generator = SystemRandomNumberGenerator()
        let big = (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let sent = RelayPair.frame(0x2, big, masked: true)
        try pair.client.writeInbound(ByteBuffer(bytes: sent[..<5000]))
        try pair.client.writeInbound(ByteBuffer(bytes: sent[5000...]))
        pair.loop.run()
        let out = try pair.toBackend()
        #expect(out.count == sent.count && out[0] == 0x82 && out[1] == 0x80 | 127)
        #expect(Array(out[10..<14]) != [0x12, 0x34, 0x56, 0x78], "never the client's key")
        let key = Array(out[10..<14])
        #expect(out[14...].enumerated().map { $0.element ^ key[$0.offset % 4] } == big)
    }

    /// A frame relayed in the same read as a broken one still reaches the other side.
    @Test func whatCameBeforeABrokenFrameInOneReadIsDelivered() throws {
        let pair = try RelayPair()
        try pair.fromBackend(0x8, RelayPair.close(1000))
        #expect(closeCodes(try RelayPair.written(pair.client)) == [1000])
        let bytes = RelayPair.frame(0x1, Array("last".utf8), masked: true) + RelayPair.frame(0x1, [1], masked: false)
        try pair.client.writeInbound(ByteBuffer(bytes: bytes))
        pair.loop.run()
        #expect(smallFrames(try pair.toBackend()).map(\.payload) == [Array("last".utf8)])
    }

    @Test func aSideReadsOnlyWhileItsPeerIsWritable() throws {
        let pair = try RelayPair()
        let before = pair.clientReads.count
        pair.backend.isWritable = false
        try pair.fromClient(0x1, Array("one".utf8))
        #expect(pair.clientReads.count == before, "no read while the backend cannot take more")
        pair.backend.isWritable = true
        pair.backend.pipeline.fireChannelWritabilityChanged()
        #expect(pair.clientReads.count == before + 1, "reading resumes when the backend drains")
        try pair.fromClient(0x1, Array("two".utf8))
        #expect(pair.clientReads.count == before + 2)
        #expect(smallFrames(try pair.toBackend()).count == 2)
    }

    @Test(arguments: RelaySide.allCases)
    func aMessageOverTheLimitIs1009ForItsSenderAnd1001ForTheOther(sender: RelaySide) throws {
        let pair = try RelayPair(policy: ConnectionPolicy(maxMessageBytes: 10))
        let payload = [UInt8](repeating: 0x61, count: 6)
        if sender == .client {
            try pair.fromClient(0x1, payload, fin: false)
            try pair.fromClient(0x0, payload)
        } else {
            try pair.fromBackend(0x1, payload, fin: false)
            try pair.fromBackend(0x0, payload)
        }
        let toClient = try RelayPair.written(pair.client)
        let toBackend = try pair.toBackend()
        let (senderGot, otherGot) = sender == .client ? (toClient, toBackend) : (toBackend, toClient)
        #expect(closeCodes(senderGot) == [1009])
        #expect(closeCodes(otherGot) == [1001], "never 1011: the other side did not fail")
        #expect(pair.connection.life.end?.code == 1009)
        #expect(!pair.client.isActive && !pair.backend.isActive, "both sides shut once their close is written")
        #expect(pair.connection.life.finished)
    }

    @Test func aRateLimitNoticeWaitsForTheHalfWrittenMessageToTheClient() throws {
        var policy = ConnectionPolicy(maxMessageBytes: 1 << 20)
        policy.buckets = [.init(key: "relay-test:\(UUID())", limit: .init(eventCount: 1, timeUnit: .hour, unitTime: 1))]
        policy.countsBackendToClient = false
        let pair = try RelayPair(policy: policy)
        try pair.fromBackend(0x1, Array("half".utf8), fin: false)
        try pair.fromClient(0x1, Array("first".utf8))
        try pair.fromClient(0x1, Array("second".utf8))
        #expect(smallFrames(try pair.toBackend()).map(\.payload) == [Array("first".utf8)], "the second message is dropped")
        #expect(try pair.toClient().map(\.opcode) == [0x1], "no notice inside the backend's message")
        try pair.fromBackend(0x0, Array("done".utf8))
        let frames = try pair.toClient()
        #expect(frames.map(\.opcode) == [0x0, 0x1])
        #expect(String(decoding: frames[1].payload, as: UTF8.self).hasPrefix(#"{"error":"rate_limited","code":4003,"#))
        #expect(pair.client.isActive, "drop does not close")
    }

    @Test(arguments: RelaySide.allCases)
    func aCloseCrossesWithItsCodeAndTheAnswerEndsBothSides(initiator: RelaySide) throws {
        let pair = try RelayPair()
        let send = { (side: RelaySide, payload: [UInt8]) in
            if side == .client { try pair.fromClient(0x8, payload) } else { try pair.fromBackend(0x8, payload) }
        }
        try send(initiator, RelayPair.close(4000, "done"))
        let relayed = try RelayPair.written(initiator == .client ? pair.backend : pair.client)
        #expect(smallFrames(relayed).map(\.payload) == [RelayPair.close(4000, "done")], "the code and reason unchanged")
        #expect(pair.client.isActive && pair.backend.isActive, "waiting for the answer")
        try send(initiator.other, RelayPair.close(4000))
        #expect(closeCodes(try RelayPair.written(initiator == .client ? pair.client : pair.backend)) == [4000])
        #expect(!pair.client.isActive && !pair.backend.isActive)
        #expect(pair.connection.life.end?.code == 4000 && pair.connection.life.end?.initiator == initiator.initiator)
    }

    @Test(arguments: RelaySide.allCases)
    func aVanishedSideIsToldToTheOther(vanished: RelaySide) throws {
        let pair = try RelayPair()
        try (vanished == .client ? pair.client : pair.backend).close().wait()
        let other = try RelayPair.written(vanished == .client ? pair.backend : pair.client)
        #expect(closeCodes(other) == [vanished == .client ? 1001 : 1011])
        #expect(!pair.client.isActive && !pair.backend.isActive)
        #expect(pair.connection.life.end?.vanished == true)
    }

    @Test func theGatewaysCloseWaitsForBothAnswersThenTheGracePeriod() throws {
        let pair = try RelayPair()
        pair.connection.close(.forbidden, reason: "subscription blocked")
        #expect(closeCodes(try RelayPair.written(pair.client)) == [4002])
        #expect(closeCodes(try pair.toBackend()) == [1001])
        try pair.fromClient(0x1, Array("late".utf8))
        #expect(try pair.toBackend().isEmpty, "nothing crosses once the gateway is closing")
        try pair.fromClient(0x8, RelayPair.close(4002))
        #expect(!pair.client.isActive, "the client's answer closes its side")
        #expect(pair.backend.isActive)
        pair.loop.advanceTime(by: RelayedConnection.closeGrace)
        #expect(!pair.backend.isActive, "a backend that never answers is dropped after the grace period")
        #expect(pair.connection.life.finished)
    }

    /// A backend that never answers the gateway's 1001: when the close grace runs out the backend
    /// is dropped first, so the client, failed in order, still gets its own code.
    @Test func aClientFailedInOrderGetsItsCodeWhenTheGraceRunsOut() throws {
        let pair = try RelayPair()
        try pair.client.writeInbound(ByteBuffer(bytes: [0xF1, 0x80, 0, 0, 0, 0]))
        pair.loop.run()
        #expect(closeCodes(try pair.toBackend()) == [1001])
        pair.loop.advanceTime(by: RelayedConnection.closeGrace + ConnectionTimers.period)
        #expect(closeCodes(try RelayPair.written(pair.client)) == [1002])
        #expect(!pair.client.isActive && !pair.backend.isActive)
    }

    /// A connection whose switch to WebSocket failed before it started lets go of its handlers
    /// when both sides close: they hold it, it held them.
    @Test func aConnectionThatNeverStartedLetsGoOfItsHandlers() throws {
        let pair = try RelayPair(started: false)
        try pair.client.close().wait()
        try pair.backend.close().wait()
        pair.loop.run()
        #expect(pair.connection.life.finished)
        #expect(pair.connection.client == nil && pair.connection.backend == nil)
    }

    @Test func aClientsProtocolErrorReachesItAfterTheBackendsLastAnswers() throws {
        let pair = try RelayPair()
        try pair.client.writeInbound(ByteBuffer(bytes: [0xF1, 0x80, 0, 0, 0, 0]))  // RSV bits set, no extension
        pair.loop.run()
        #expect(closeCodes(try pair.toBackend()) == [1001])
        #expect(try pair.toClient().isEmpty, "the client waits for the backend's answer")
        try pair.fromBackend(0x1, Array("answer".utf8))
        try pair.fromBackend(0x8, RelayPair.close(1001))
        let frames = try pair.toClient()
        #expect(frames.map(\.opcode) == [0x1, 0x8])
        #expect(closeCodes(frames.flatMap { [$0.opcode | 0x80, UInt8($0.payload.count)] + $0.payload }) == [1002])
    }

    /// A message pushed from outside the relay reaches the client whole, after the message the
    /// backend is half way through; a closing connection takes none.
    @Test func aPushedMessageFollowsTheBackendsHalfWrittenMessage() throws {
        let pair = try RelayPair()
        let first = pair.connection.push(ByteBuffer(string: "now"), binary: false)
        pair.loop.run()
        try first.wait()
        #expect(try pair.toClient().map(\.payload) == [Array("now".utf8)])
        try pair.fromBackend(0x1, Array("half".utf8), fin: false)
        let pushed = pair.connection.push(ByteBuffer(bytes: [1, 2]), binary: true)
        pair.loop.run()
        try pushed.wait()
        #expect(try pair.toClient().map(\.opcode) == [0x1], "not inside the backend's message")
        try pair.fromBackend(0x0, Array("done".utf8))
        let frames = try pair.toClient()
        #expect(frames.map(\.opcode) == [0x0, 0x2])
        #expect(frames.last?.payload == [1, 2])
        pair.connection.close(.goingAway, reason: "shutdown")
        let late = pair.connection.push(ByteBuffer(string: "late"), binary: false)
        pair.loop.run()
        #expect(throws: RelayedConnection.PushRefusal.closed) { try late.wait() }
    }

    // The timers: one sweep per event loop (`ConnectionTimers`), here on the embedded loop's clock.

    @Test func aQuietConnectionIsClosedAfterItsIdleTimeoutAndTrafficPostponesIt() throws {
        var policy = ConnectionPolicy(maxMessageBytes: 1 << 20)
        policy.idleTimeout = .seconds(2)
        let pair = try RelayPair(policy: policy)
        pair.loop.advanceTime(by: .milliseconds(1750))
        try pair.fromBackend(0x1, Array("still here".utf8))
        pair.loop.advanceTime(by: .milliseconds(1750))
        #expect(closeCodes(try RelayPair.written(pair.client)).isEmpty, "the message restarted the idle time")
        pair.loop.advanceTime(by: .milliseconds(500))
        let frames = try pair.toClient()
        #expect(closeCodes(frames.flatMap { [$0.opcode | 0x80, UInt8($0.payload.count)] + $0.payload }) == [1001])
        #expect(frames.contains { String(decoding: $0.payload, as: UTF8.self).contains("idle timeout") })
        #expect(closeCodes(try pair.toBackend()) == [1001])
    }

    @Test func aBusyConnectionEndsAtItsLifetime() throws {
        var policy = ConnectionPolicy(maxMessageBytes: 1 << 20)
        policy.maxLifetime = .seconds(3)
        let pair = try RelayPair(policy: policy)
        for _ in 0..<2 {
            pair.loop.advanceTime(by: .seconds(1))
            try pair.fromClient(0x1, Array("busy".utf8))
        }
        #expect(closeCodes(try RelayPair.written(pair.client)).isEmpty)
        pair.loop.advanceTime(by: .milliseconds(1250))
        #expect(closeCodes(try RelayPair.written(pair.client)) == [1001])
    }

    @Test func aConnectionIsClosedWhenItsTokenExpires() throws {
        let pair = try RelayPair(tokenLifetime: 2, closeOnExpiry: true)
        pair.loop.advanceTime(by: .milliseconds(1500))
        #expect(closeCodes(try RelayPair.written(pair.client)).isEmpty)
        pair.loop.advanceTime(by: .seconds(1))
        #expect(closeCodes(try RelayPair.written(pair.client)) == [4001])
        #expect(pair.connection.life.end?.reason == "access token expired")
    }

    @Test func aSideThatAnswersNoPingIsDroppedAndTheOtherSideTold() throws {
        let pair = try RelayPair(pingInterval: 1)
        pair.loop.advanceTime(by: .seconds(1))
        #expect(try pair.toClient().map(\.payload) == [RelayHandler.keepAlivePayload])
        #expect(smallFrames(try pair.toBackend()).map(\.payload) == [RelayHandler.keepAlivePayload])
        try pair.fromClient(0xA, RelayHandler.keepAlivePayload)
        #expect(try pair.toBackend().isEmpty, "the answer to the gateway's ping is not relayed")
        pair.loop.advanceTime(by: .seconds(1))
        #expect(!pair.backend.isActive, "the backend answered nothing")
        #expect(closeCodes(try RelayPair.written(pair.client)) == [1011])
    }
}

@Suite struct MaskKeysTests {
    /// Fresh keys across many refills of the per-thread pool: no repeats beyond chance, no all-zero run.
    @Test func keysAreFreshAcrossRefills() {
        let keys = (0..<5000).map { _ in Array(WireMask.key(MaskKeys.next())) }
        #expect(Set(keys).count >= 4990, "4-byte keys from a CSPRNG repeat about once in 860 000 draws per pair")
        #expect(keys.filter { $0 == [0, 0, 0, 0] }.count <= 1)
        let bytes = keys.flatMap { $0 }
        let ones = bytes.reduce(0) { $0 + $1.nonzeroBitCount }
        #expect(abs(Double(ones) / Double(bytes.count * 8) - 0.5) < 0.01, "bits are balanced")
    }
}
