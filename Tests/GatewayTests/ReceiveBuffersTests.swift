import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PorticoTestSupport
import Testing

@testable import gateway

@Suite struct ReceiveBuffersTests {
    @Test func theFirstBufferIsSmallAndNoneIsReusedBySize() {
        var buffers = ReceiveBuffers()
        let allocator = ByteBufferAllocator()
        var mayGrow: [Bool] = []
        #expect(buffers.buffer(allocator: allocator).capacity == ReceiveBuffers.firstSize)
        #expect(buffers.nextBufferSize() == nil)
        mayGrow.append(buffers.record(actualReadBytes: ReceiveBuffers.firstSize))
        // After the first read, NIO's adaptive sizes: 2,048, doubled after a full read, halved
        // after two reads under half.
        #expect(buffers.buffer(allocator: allocator).capacity == 2048)
        mayGrow.append(buffers.record(actualReadBytes: 2048))
        #expect(buffers.buffer(allocator: allocator).capacity == 4096)
        mayGrow.append(buffers.record(actualReadBytes: 10))
        mayGrow.append(buffers.record(actualReadBytes: 10))
        #expect(buffers.buffer(allocator: allocator).capacity == 2048)
        #expect(buffers.nextBufferSize() == nil)
        // "May grow" after every read: NIO's pool never reuses its stored buffer.
        #expect(mayGrow == [true, true, true, true])
    }

    /// NIO's own pool, as a channel runs it: the small first buffer is kept, the handshake's second
    /// buffer until the side settles, and no kept buffer is read into again.
    @Test func nioKeepsTheFirstBufferOnlyOnceASideSettles() {
        var pool = NIOPooledRecvBufferAllocator(capacity: 2, recvAllocator: ReceiveBuffers())
        let allocator = ByteBufferAllocator()
        func read(_ bytes: Int) -> (capacity: Int, storage: UInt) {
            let (buffer, _) = pool.buffer(allocator: allocator) { $0.writeRepeatingByte(1, count: min(bytes, $0.writableBytes)) }
            pool.record(actualReadBytes: min(bytes, buffer.capacity))
            return (buffer.capacity, buffer.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) })
        }
        // The handshake: a request of 1,100 bytes, read in one wake-up (two reads).
        let first = read(1100)
        #expect(first.capacity == ReceiveBuffers.firstSize)
        let second = read(1100 - ReceiveBuffers.firstSize)
        #expect(second.capacity == 2048)
        #expect(pool.count == 2)
        // The side relays: one read per wake-up.
        pool.updateCapacity(to: 1)
        #expect(pool.count == 1)
        for bytes in [64, 3000, 16384, 10, 10] {
            let later = read(bytes)
            #expect(later.storage != first.storage)
            #expect(pool.count == 1)
        }
    }

    /// On a real socket: the channel reads into a small first buffer, twice per wake-up until it
    /// settles and once after, and never into its first buffer again. Without `use(on:)` NIO reads
    /// into 2,048 bytes first and into that same buffer again.
    @Test func aChannelKeepsOnlyItsSmallFirstBuffer() async throws {
        let reads = NIOLockedValueBox<[Read]>([])
        let accepted = NIOLockedValueBox<(any Channel)?>(nil)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                do {
                    try ReceiveBuffers.use(on: channel)
                    try channel.pipeline.syncOperations.addHandler(ReadRecorder(reads: reads))
                    accepted.withLockedValue { $0 = channel }
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        func received() -> Int { reads.withLockedValue { $0.reduce(0) { $0 + $1.bytes } } }

        let request = "GET /echowebsocket/1.0.0 HTTP/1.1\r\n" + String(repeating: "x", count: 1000)
        try await client.writeAndFlush(ByteBuffer(string: request))
        #expect(await eventually(within: 5) { received() == request.utf8.count })
        let channel = try #require(accepted.withLockedValue { $0 })
        #expect(try await channel.getOption(.maxMessagesPerRead).get() == 2)
        #expect(try await channel.getOption(.recvAllocator).get() is ReceiveBuffers)
        try await channel.eventLoop.submit { try ReceiveBuffers.settle(on: channel) }.get()
        #expect(try await channel.getOption(.maxMessagesPerRead).get() == 1)
        // Three rounds of 3,000 bytes: several reads each, the buffers growing.
        for round in 1...3 {
            try await client.writeAndFlush(ByteBuffer(repeating: UInt8(round), count: 3000))
            #expect(await eventually(within: 5) { received() == request.utf8.count + round * 3000 })
        }
        try await client.close()
        try await server.close()

        let all = reads.withLockedValue { $0 }
        let first = try #require(all.first)
        #expect(first.capacity <= ReceiveBuffers.firstSize)
        #expect(all.count > 4)
        // The first buffer is alive in NIO's pool all along, so no later buffer can share its memory.
        #expect(all.dropFirst().allSatisfy { $0.storage != first.storage })
    }
}

private struct Read {
    var bytes: Int
    var capacity: Int
    var storage: UInt
}

private final class ReadRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let reads: NIOLockedValueBox<[Read]>
    init(reads: NIOLockedValueBox<[Read]>) { self.reads = reads }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let storage = buffer.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        reads.withLockedValue { $0.append(Read(bytes: buffer.readableBytes, capacity: buffer.capacity, storage: storage)) }
    }
}
