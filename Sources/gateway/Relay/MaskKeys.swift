import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The masking keys of frames to backends. RFC 6455 §5.3: each frame's key is fresh and comes from a
/// strong source of entropy — here the kernel's CSPRNG (/dev/urandom), read 4 KiB at a time per
/// thread (1,024 keys per read) instead of a `getrandom` call per frame, which cost about 1 % of the
/// gateway's CPU per relayed message (`make profile`). The backend handshake's `Sec-WebSocket-Key`
/// nonce and the connection ids (`ConnectionID`) are drawn from the same pool.
enum MaskKeys {
    /// One per thread: never shared.
    private final class Pool: @unchecked Sendable {
        var bytes = [UInt8](repeating: 0, count: 4096)
        var next = 4096
    }

    private static let pools = ThreadSpecificVariable<Pool>()

    /// A fresh key, its four bytes in wire order (big-endian), as `WireFrame` takes it.
    static func next() -> UInt32 {
        let pool: Pool
        if let existing = pools.currentValue {
            pool = existing
        } else {
            pool = Pool()
            pools.currentValue = pool
        }
        if pool.next + 4 > pool.bytes.count {
            refill(pool)
        }
        defer { pool.next += 4 }
        let i = pool.next
        return UInt32(pool.bytes[i]) << 24 | UInt32(pool.bytes[i + 1]) << 16 | UInt32(pool.bytes[i + 2]) << 8 | UInt32(pool.bytes[i + 3])
    }

    /// `count` fresh bytes (a multiple of four) from the same pool: the backend handshake's nonce, a
    /// connection's id.
    static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        for _ in 0..<(count / 4) { withUnsafeBytes(of: next().bigEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    private static func refill(_ pool: Pool) {
        var filled = 0
        let file = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if file >= 0 {
            pool.bytes.withUnsafeMutableBytes { buffer in
                while filled < buffer.count {
                    let count = read(file, buffer.baseAddress! + filled, buffer.count - filled)
                    if count > 0 { filled += count } else if count < 0 && errno == EINTR { continue } else { break }
                }
            }
            close(file)
        }
        if filled < pool.bytes.count {
            // No /dev/urandom (a bare chroot): the standard library's generator, which asks the
            // kernel per call, fills the pool instead.
            var generator = SystemRandomNumberGenerator()
            for index in pool.bytes.indices { pool.bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        }
        pool.next = 0
    }
}
