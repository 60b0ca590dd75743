import Foundation
import NIOCore
import NIOPosix

/// The connection management API's cost: one WebSocket client (on whichever gateway `client`
/// reaches), and `callers` keep-alive HTTP connections to a gateway's management listener, each
/// pushing the next message as soon as the last push was answered. Reports pushes per second, the
/// calls' latency, what was not answered 200, and how many messages the client received.
final class PushRun: @unchecked Sendable {
    let client: WebSocketTarget
    let management: String
    let key: String
    let callers: Int
    let size: Int
    let seconds: Double
    private var latencies = Latencies()
    private var statuses: [Int: Int] = [:]
    private var delivered = 0
    private var running = true

    init(client: WebSocketTarget, management: String, key: String, callers: Int, size: Int, seconds: Double) {
        (self.client, self.management, self.key, self.callers, self.size, self.seconds) = (client, management, key, callers, size, seconds)
    }

    func run(on group: MultiThreadedEventLoopGroup) async throws -> [String: Double] {
        let loop = group.next()
        guard let url = URLComponents(string: management), url.scheme == "http", let host = url.host, let port = url.port else {
            throw BenchError("--management must be http://host:port/{context}/{version}")
        }
        let socket = try await client.open(on: loop) { [self] _ in delivered += 1 }.get()
        guard let id = try await loop.submit({ socket.connectionID }).get() else { throw BenchError("the gateway sent no X-Portico-Connection-Id") }
        let body = String(repeating: "x", count: size)
        let request = ByteBuffer(
            string: "POST \(url.percentEncodedPath)/@connections/\(id) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
                + "Authorization: Bearer \(key)\r\nContent-Type: text/plain\r\nContent-Length: \(size)\r\n\r\n\(body)"
        )
        let started = NIODeadline.now()
        var channels: [any Channel] = []
        for _ in 0..<callers {
            channels.append(
                try await HTTPCaller.connect(to: host, port: port, on: loop, request: request) { [self] status, nanos in
                    guard running else { return false }
                    statuses[status, default: 0] += 1
                    latencies.samples.append(nanos)
                    return true
                }
            )
        }
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        let elapsed = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        let opened = channels
        // The pushes answered by now have reached the client, or are on their way: a moment for them.
        try await loop.submit { [self] in running = false }.get()
        try await Task.sleep(for: .milliseconds(500))
        return try await loop.submit { [self] in
            for channel in opened { channel.close(promise: nil) }
            socket.close()
            var result = latencies.summary()
            let answered = statuses.values.reduce(0, +)
            result["pushes"] = Double(answered)
            result["pushesPerSecond"] = (Double(answered) / elapsed).rounded()
            result["failed"] = Double(answered - (statuses[200] ?? 0))
            result["delivered"] = Double(delivered)
            return result
        }.get()
    }
}
