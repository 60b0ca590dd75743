import NIOCore

/// How both sockets of a relayed connection read: into a buffer that lives as long as the read.
///
/// SwiftNIO pools a channel's receive buffers (as many as `maxMessagesPerRead`, the reads per
/// wake-up) and keeps them for the channel's life, so an idle connection would hold the largest
/// buffer it ever read into (2,048 bytes at least, NIO's first size) on each side. With this
/// allocator the pool keeps the first buffer, `firstSize` bytes, and never hands it out again.
/// During the handshake a side reads twice per wake-up (the small first buffer, then one of the
/// handshake's size: a request with a bearer token arrives whole), so the pool also holds that one;
/// `settle(on:)`, once the side relays, makes it one read per wake-up, which drops it. From then
/// on every read gets a buffer of its own, freed once its bytes are relayed, sized as NIO's
/// adaptive allocator sizes them (2,048 to start, doubled after a full read, halved after two
/// reads under half). An idle connection holds two small buffers instead of two large ones; each
/// read costs one allocation, which NIO's pool saved.
struct ReceiveBuffers: RecvByteBufferAllocator {
    /// The pooled first buffer: the start of a request line, a status line or a TLS record.
    static let firstSize = 16

    private var sizes = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 65_536)
    private var started = false

    /// Sets a socket channel of the gateway (a ws or wss client's, a backend's) to read this way;
    /// called from its channel initializer, on its event loop.
    static func use(on channel: any Channel) throws {
        guard let options = channel.syncOptions else { return }
        try options.setOption(.recvAllocator, value: ReceiveBuffers())
        try options.setOption(.maxMessagesPerRead, value: 2)
    }

    /// Once a side relays: one read per wake-up, so NIO's pool keeps only the small first buffer.
    static func settle(on channel: any Channel) throws {
        try channel.syncOptions?.setOption(.maxMessagesPerRead, value: 1)
    }

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        started ? sizes.buffer(allocator: allocator) : allocator.buffer(capacity: Self.firstSize)
    }

    /// `nil`: no size to reuse a pooled buffer at.
    func nextBufferSize() -> Int? { nil }

    /// Always `true` (the next buffer "may grow"), so NIO's pool never hands its stored first
    /// buffer out again.
    mutating func record(actualReadBytes: Int) -> Bool {
        if started {
            _ = sizes.record(actualReadBytes: actualReadBytes)
        } else {
            started = true
        }
        return true
    }
}
