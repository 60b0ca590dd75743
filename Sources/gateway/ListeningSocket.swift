import CReusePort
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The client listeners' sockets, opened here rather than by NIO so that the gateway can share its
/// ports with its successor and hand new connections over to it.
///
/// With `SO_REUSEPORT` a new gateway process binds the same ws and wss ports while the old one
/// still listens; the kernel then spreads new connections over both. When the old process drains it
/// first steers every new connection to the other socket of the group (`steerAway`), accepts what
/// was already on its way to it for `handover`, and only then closes: a socket closed with
/// connections in its accept queue would reset them, so closing at once would refuse a handshake
/// or two at every restart.
enum ListeningSocket {
    /// How long a draining gateway still accepts after steering new connections away: long enough
    /// for a handshake whose SYN reached it before to complete (one round trip).
    static let handover: TimeInterval = 1

    /// A socket bound to `host:port` and listening, for `ServerBootstrap.withBoundSocket`. With
    /// `reusePort` a successor may join it later; it joins another process's socket only when
    /// `joining` (`--replace`): a second gateway started on a port in use by mistake fails as it
    /// would without `SO_REUSEPORT`.
    static func open(host: String, port: Int, backlog: Int32, reusePort: Bool, joining: Bool) throws -> NIOBSDSocket.Handle {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        if reusePort && !joining {
            // The port must be free: bind it once without SO_REUSEPORT, and let go.
            close(try bound(address, host: host, port: port, reusePort: false))
        }
        let descriptor = try bound(address, host: host, port: port, reusePort: reusePort)
        guard listen(descriptor, backlog) == 0 else {
            let error = IOError(errnoCode: errno, reason: "listen on \(host):\(port)")
            close(descriptor)
            throw error
        }
        return descriptor
    }

    private static func bound(_ address: SocketAddress, host: String, port: Int, reusePort: Bool) throws -> CInt {
        let descriptor = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        do {
            try setOption(descriptor, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR")
            if reusePort { try setOption(descriptor, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT") }
            // Every accepted socket inherits it: clients' frames are sent at once, with no
            // setsockopt per connection.
            try setOption(descriptor, CInt(IPPROTO_TCP), TCP_NODELAY, "TCP_NODELAY")
            let result = address.withSockAddr { pointer, size in bind(descriptor, pointer, socklen_t(size)) }
            guard result == 0 else { throw IOError(errnoCode: errno, reason: "bind to \(host):\(port)") }
            return descriptor
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Sends every new connection of the port's `SO_REUSEPORT` group to another socket than the
    /// oldest — the group's first socket, which a gateway that is taken over from is, since its
    /// successor joined after it. Alone in its group, the kernel's usual choice applies: itself.
    @discardableResult
    static func steerAway(_ descriptor: NIOBSDSocket.Handle) -> Bool {
        portico_reuseport_steer(descriptor, 1) == 0
    }

    private static func setOption(_ descriptor: CInt, _ level: CInt, _ name: CInt, _ label: String) throws {
        var one: CInt = 1
        guard setsockopt(descriptor, level, name, &one, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
            throw IOError(errnoCode: errno, reason: "setsockopt \(label)")
        }
    }
}
