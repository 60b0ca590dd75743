import Foundation
import PorticoTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every socket of a relayed connection sends at once (TCP_NODELAY): the client's as the gateway
/// accepted it (Linux copies it from the listening socket: `ListeningSocket`), the gateway's to the
/// backend, and the echo backend's. A socket left to Nagle's algorithm holds a small frame back
/// while an earlier one is unacknowledged — up to the peer's delayed ACK (40 ms on Linux) when a
/// backend pushes several messages in a row. (NIO's `.socketOption(.tcp_nodelay)` is not it: that
/// is `SO_DEBUG`, which fails without CAP_NET_ADMIN — DeploymentTests runs the services as a user
/// without it.)
@Suite struct SocketOptionsTests {
    @Test func everySocketOfARelayedConnectionHasNoDelay() async throws {
        try await InProcessStack.run { stack in
            let gatewayPort = try #require(URLComponents(string: stack.gatewayURL)?.port)
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            let sockets = Self.tcpSockets()
            let accepted = sockets.filter { $0.local == gatewayPort }
            let dialled = sockets.filter { $0.peer == stack.echoPort }
            let echoed = sockets.filter { $0.local == stack.echoPort }
            #expect(!accepted.isEmpty && !dialled.isEmpty && !echoed.isEmpty, "\(sockets)")
            for socket in accepted + dialled + echoed {
                #expect(socket.noDelay, "\(socket)")
            }
            try await client.socket.close().get()
        }
    }

    struct Socket: CustomStringConvertible {
        let fd: Int32
        let local: Int
        let peer: Int
        let noDelay: Bool
        var description: String { "fd \(fd) \(local) -> \(peer), TCP_NODELAY \(noDelay)" }
    }

    /// This process's connected IPv4 TCP sockets, from its open file descriptors.
    static func tcpSockets() -> [Socket] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.compactMap { name -> Socket? in
            guard let fd = Int32(name) else { return nil }
            func port(_ get: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> Int? {
                var address = sockaddr_in()
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let result = withUnsafeMutablePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { get(fd, $0, &length) }
                }
                guard result == 0, address.sin_family == sa_family_t(AF_INET) else { return nil }
                return Int(UInt16(bigEndian: address.sin_port))
            }
            var type: Int32 = 0
            var typeLength = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &typeLength) == 0, type == Int32(SOCK_STREAM.rawValue),
                let local = port(getsockname), let peer = port(getpeername)
            else { return nil }
            var noDelay: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, &length) == 0 else { return nil }
            return Socket(fd: fd, local: local, peer: peer, noDelay: noDelay != 0)
        }
    }
}
