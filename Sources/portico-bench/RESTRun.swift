import Foundation
import NIOCore
import NIOPosix

/// REST requests in a closed loop over keep-alive HTTP/1.1 connections: `connections` callers
/// send `request` (a legitimate, authenticated one) as fast as they are answered, while
/// `noiseConnections` others send `noise` (wrong passwords) the same way. Reports the callers'
/// requests per second and latency, and what the noise was answered. Confined to its event loop.
final class RESTRun: @unchecked Sendable {
    let host: String
    let port: Int
    let request: ByteBuffer
    let noise: ByteBuffer?
    let connections: Int
    let noiseConnections: Int
    let seconds: Double
    private var latencies = Latencies()
    private var statuses: [Int: Int] = [:]
    private var noiseStatuses: [Int: Int] = [:]
    private var running = true

    init?(
        url raw: String,
        headers: [(String, String)],
        noiseHeaders: [(String, String)],
        connections: Int,
        noiseConnections: Int,
        seconds: Double
    ) {
        guard let url = URLComponents(string: raw), url.scheme == "http", let host = url.host, let port = url.port else { return nil }
        (self.host, self.port, self.connections, self.noiseConnections, self.seconds) = (host, port, connections, noiseConnections, seconds)
        let path = (url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath) + (url.percentEncodedQuery.map { "?" + $0 } ?? "")
        func make(_ headers: [(String, String)]) -> ByteBuffer {
            ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n" + headers.map { "\($0): \($1)\r\n" }.joined() + "\r\n")
        }
        request = make(headers)
        noise = noiseConnections > 0 ? make(noiseHeaders) : nil
    }

    func run(on group: MultiThreadedEventLoopGroup) async throws -> [String: Double] {
        let loop = group.next()
        let started = NIODeadline.now()
        var channels: [any Channel] = []
        for index in 0..<(connections + noiseConnections) {
            let isNoise = index >= connections
            channels.append(
                try await HTTPCaller.connect(to: host, port: port, on: loop, request: isNoise ? noise! : request) { [self] status, nanos in
                    guard running else { return false }
                    if isNoise {
                        noiseStatuses[status, default: 0] += 1
                    } else {
                        statuses[status, default: 0] += 1
                        latencies.samples.append(nanos)
                    }
                    return true
                }
            )
        }
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        let elapsed = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        let opened = channels
        return try await loop.submit { [self] in
            running = false
            for channel in opened { channel.close(promise: nil) }
            var result = latencies.summary()
            let answered = statuses.values.reduce(0, +)
            result["requests"] = Double(answered)
            result["requestsPerSecond"] = (Double(answered) / elapsed).rounded()
            result["failed"] = Double(answered - (statuses[200] ?? 0))
            for (status, count) in noiseStatuses { result["noise\(status)"] = Double(count) }
            result["noiseRequests"] = Double(noiseStatuses.values.reduce(0, +))
            return result
        }.get()
    }
}

/// One keep-alive connection sending the same request each time the last answer has come in.
/// Answers are read by `Content-Length` (the REST services always send it).
final class HTTPCaller: ChannelInboundHandler, @unchecked Sendable {
    /// Connects a caller of `request` to `host`:`port` on `loop`.
    static func connect(
        to host: String,
        port: Int,
        on loop: any EventLoop,
        request: ByteBuffer,
        answered: @escaping (Int, UInt64) -> Bool
    ) async throws -> any Channel {
        let handler = HTTPCaller(request: request, answered: answered)
        return try await ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) } }
            .connect(host: host, port: port).get()
    }

    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let request: ByteBuffer
    /// Called with each answer's status and latency; false stops the caller.
    let answered: (Int, UInt64) -> Bool
    private var inbound = ByteBuffer()
    private var sent = NIODeadline.now()

    init(request: ByteBuffer, answered: @escaping (Int, UInt64) -> Bool) {
        self.request = request
        self.answered = answered
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context)
    }

    private func send(context: ChannelHandlerContext) {
        sent = .now()
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        inbound.writeBuffer(&bytes)
        while let status = nextResponse() {
            guard answered(status, UInt64((NIODeadline.now() - sent).nanoseconds)) else { return }
            send(context: context)
        }
    }

    /// The status of the next complete response in `inbound`, consumed; nil while incomplete.
    private func nextResponse() -> Int? {
        let view = inbound.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
        let length =
            head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        let total = view.distance(from: view.startIndex, to: end.upperBound) + length
        guard inbound.readableBytes >= total else { return nil }
        inbound.moveReaderIndex(forwardBy: total)
        inbound.discardReadBytes()
        return head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
