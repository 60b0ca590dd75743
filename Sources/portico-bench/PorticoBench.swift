import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// The benchmark's load generator: WebSocket clients on one event loop thread, speaking frames
/// directly (no library in the measured path). Each run prints one JSON object with its figures
/// and its own CPU use, so a reader can tell whether the generator was the bottleneck.
@main
struct PorticoBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portico-bench",
        abstract: "Load generator of `make bench`: one run, one JSON line of figures.",
        subcommands: [Echo.self, Handshakes.self, Idle.self, REST.self, Push.self]
    )

    /// What every run names: where to connect and the headers to send.
    struct Target: ParsableArguments {
        @Option(help: "ws://host:port/path (http:// for rest)") var url: String
        @Option(name: .customLong("header"), help: "A request header, 'Name: value'; repeatable", transform: PorticoBench.header)
        var headers: [Header] = []
    }

    struct Header: Sendable {
        let name: String
        let value: String
    }

    static func header(_ raw: String) throws -> Header {
        guard let colon = raw.firstIndex(of: ":") else { throw ValidationError("'\(raw)' is not 'Name: value'") }
        return Header(name: String(raw[..<colon]), value: raw[raw.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }

    /// Runs `body` on a one-thread event loop group and prints its figures with the generator's CPU use.
    static func report(_ body: (MultiThreadedEventLoopGroup) async throws -> [String: Double]) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let cpu = CPUUsage()
        var result = try await body(group)
        result["generatorCPUPercent"] = cpu.percentOfOneCore()
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
        try await group.shutdownGracefully()
    }

    static func websocket(_ target: Target) throws -> WebSocketTarget {
        guard let url = WebSocketTarget(target.url, headers: target.headers.map { ($0.name, $0.value) }) else {
            throw ValidationError("--url must be ws://host:port/path, not '\(target.url)'")
        }
        return url
    }

    struct Echo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Connections that each send a message and wait for its echo, in a loop.")
        @OptionGroup var target: Target
        @Option var connections = 50
        @Option(help: "Message size in bytes") var size = 64
        @Option var seconds = 10
        @Option(help: "Messages per second per connection (fixed rate); closed loop when absent") var rate: Int?

        func run() async throws {
            let url = try PorticoBench.websocket(target)
            try await PorticoBench.report { group in
                try await EchoRun(target: url, connections: connections, size: size, seconds: Double(seconds), rate: rate).run(on: group)
            }
        }
    }

    struct Handshakes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open and close connections, `concurrency` at a time.")
        @OptionGroup var target: Target
        @Option var count = 2000
        @Option var concurrency = 50

        func run() async throws {
            let url = try PorticoBench.websocket(target)
            try await PorticoBench.report { group in
                try await HandshakeRun(target: url, count: count, concurrency: concurrency).run(on: group)
            }
        }
    }

    struct Idle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open connections and hold them until stdin closes.")
        @OptionGroup var target: Target
        @Option var connections = 9000

        func run() async throws {
            let url = try PorticoBench.websocket(target)
            try await PorticoBench.report { group in try await IdleRun(target: url, connections: connections).run(on: group) }
        }
    }

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Messages pushed to one client through the connection management API (POST …/@connections/{id}), closed loop."
        )
        @OptionGroup var target: Target
        @Option(help: "The management API's base for the client's API: http://host:port/{context}/{version}") var management: String
        @Option(help: "A connection key of the API") var key: String
        @Option(help: "Callers pushing at once") var callers = 4
        @Option(help: "Message size in bytes") var size = 64
        @Option var seconds = 10

        func run() async throws {
            let url = try PorticoBench.websocket(target)
            try await PorticoBench.report { group in
                try await PushRun(client: url, management: management, key: key, callers: callers, size: size, seconds: Double(seconds)).run(
                    on: group
                )
            }
        }
    }

    struct REST: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rest", abstract: "REST requests in a closed loop, with optional noise.")
        @OptionGroup var target: Target
        @Option var connections = 16
        @Option var seconds = 10
        @Option(help: "Connections sending requests that fail authentication, beside the measured ones") var noiseConnections = 0
        @Option(name: .customLong("noise-header"), help: "A header of the noise requests; repeatable", transform: PorticoBench.header)
        var noiseHeaders: [Header] = []

        func run() async throws {
            guard
                let run = RESTRun(
                    url: target.url,
                    headers: target.headers.map { ($0.name, $0.value) },
                    noiseHeaders: noiseHeaders.map { ($0.name, $0.value) },
                    connections: connections,
                    noiseConnections: noiseConnections,
                    seconds: Double(seconds)
                )
            else { throw ValidationError("--url must be http://host:port/path, not '\(target.url)'") }
            try await PorticoBench.report { group in try await run.run(on: group) }
        }
    }
}

/// This process's CPU time against the wall clock since it was made.
struct CPUUsage {
    let start = Date()
    let cpuStart = CPUUsage.seconds()

    static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    func percentOfOneCore() -> Double {
        ((Self.seconds() - cpuStart) / Date().timeIntervalSince(start) * 1000).rounded() / 10
    }
}

/// Where to connect and the upgrade request to send.
struct WebSocketTarget: Sendable {
    let host: String
    let port: Int
    let request: String

    init?(_ raw: String, headers: [(String, String)]) {
        guard let url = URLComponents(string: raw), url.scheme == "ws", let host = url.host, let port = url.port else { return nil }
        self.host = host
        self.port = port
        let path = (url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath) + (url.percentEncodedQuery.map { "?" + $0 } ?? "")
        var request =
            "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        self.request = request + "\r\n"
    }

    /// Connects and completes the WebSocket handshake; `onMessage` gets each data message's length.
    func open(on loop: any EventLoop, onMessage: @escaping (Int) -> Void) -> EventLoopFuture<WebSocketConnection> {
        let opened = loop.makePromise(of: Void.self)
        let handler = WebSocketConnection(request: request, opened: opened, onMessage: onMessage)
        return ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .connect(host: host, port: port)
            .flatMap { _ in opened.futureResult }
            .map { handler }
    }
}

/// A client connection: the handshake, then masked frames out and unmasked frames in. Used only on
/// its channel's event loop.
final class WebSocketConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: String
    private let opened: EventLoopPromise<Void>
    private let onMessage: (Int) -> Void
    private var context: ChannelHandlerContext?
    private var inbound = ByteBuffer()
    private var open = false
    /// The gateway's `X-Portico-Connection-Id` from the 101, when it sent one.
    private(set) var connectionID: String?
    private var messageLength = 0

    init(request: String, opened: EventLoopPromise<Void>, onMessage: @escaping (Int) -> Void) {
        self.request = request
        self.opened = opened
        self.onMessage = onMessage
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        inbound.writeBuffer(&bytes)
        if !open {
            guard let end = inbound.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
            let head = inbound.readString(length: end.upperBound - inbound.readerIndex) ?? ""
            guard head.hasPrefix("HTTP/1.1 101") else {
                opened.fail(BenchError("handshake refused: \(head.prefix(while: { $0 != "\r" }))"))
                context.close(promise: nil)
                return
            }
            open = true
            connectionID = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-portico-connection-id:") }
                .map { $0.dropFirst("x-portico-connection-id:".count).trimmingCharacters(in: .whitespaces) }
            opened.succeed()
        }
        while let length = nextFrame() {
            messageLength += length.payload
            if length.fin && length.data {
                onMessage(messageLength)
                messageLength = 0
            }
        }
        inbound.discardReadBytes()
    }

    /// Consumes one whole frame if buffered: its payload length, FIN, and whether it carries data.
    private func nextFrame() -> (payload: Int, fin: Bool, data: Bool)? {
        guard inbound.readableBytes >= 2, let first = inbound.getInteger(at: inbound.readerIndex, as: UInt8.self),
            let second = inbound.getInteger(at: inbound.readerIndex + 1, as: UInt8.self)
        else { return nil }
        var header = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let extended = inbound.getInteger(at: inbound.readerIndex + 2, as: UInt16.self) else { return nil }
            length = Int(extended)
            header = 4
        } else if length == 127 {
            guard let extended = inbound.getInteger(at: inbound.readerIndex + 2, as: UInt64.self) else { return nil }
            length = Int(extended)
            header = 10
        }
        guard inbound.readableBytes >= header + length else { return nil }
        inbound.moveReaderIndex(forwardBy: header + length)
        let opcode = first & 0x0F
        return (length, first & 0x80 != 0, opcode < 0x8)
    }

    /// Sends one masked binary message of `payload`.
    func send(_ payload: ByteBuffer) {
        guard let context else { return }
        var frame = context.channel.allocator.buffer(capacity: payload.readableBytes + 14)
        frame.writeInteger(UInt8(0x82))
        let count = payload.readableBytes
        if count < 126 {
            frame.writeInteger(UInt8(0x80 | count))
        } else if count < 65536 {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(count))
        } else {
            frame.writeInteger(UInt8(0x80 | 127))
            frame.writeInteger(UInt64(count))
        }
        // A zero mask leaves the payload as it is: valid, and no cost that would load the generator.
        frame.writeInteger(UInt32(0))
        var body = payload
        frame.writeBuffer(&body)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func close() {
        context?.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        opened.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        opened.fail(BenchError("connection closed"))
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Latencies in nanoseconds, summarised as percentiles in microseconds.
struct Latencies {
    var samples: [UInt64] = []

    func summary() -> [String: Double] {
        guard !samples.isEmpty else { return [:] }
        let sorted = samples.sorted()
        func micros(_ nanos: UInt64) -> Double { (Double(nanos) / 100).rounded() / 10 }
        func at(_ quantile: Double) -> Double { micros(sorted[min(sorted.count - 1, Int(Double(sorted.count) * quantile))]) }
        return ["p50Micros": at(0.5), "p99Micros": at(0.99), "p999Micros": at(0.999), "maxMicros": micros(sorted.last!)]
    }
}

/// Closed loop (each connection sends its next message when the last came back) or, with a rate,
/// open loop at a fixed total rate, latency counted from when each message was due (so a stall
/// is not hidden by messages that were never sent). Confined to its event loop.
final class EchoRun: @unchecked Sendable {
    let target: WebSocketTarget
    let connections: Int
    let payload: ByteBuffer
    let seconds: Double
    let rate: Int?
    private var sockets: [WebSocketConnection] = []
    private var start = NIODeadline.now()
    private var end = NIODeadline.now()
    private var count = 0
    private var latencies = Latencies()
    /// When each message in flight was due, per connection, oldest first (echoes keep order).
    private var due: [[NIODeadline]]
    private var head: [Int]

    init(target: WebSocketTarget, connections: Int, size: Int, seconds: Double, rate: Int?) {
        self.target = target
        self.connections = connections
        payload = ByteBuffer(repeating: 0x61, count: size)
        self.seconds = seconds
        self.rate = rate
        due = Array(repeating: [], count: connections)
        head = Array(repeating: 0, count: connections)
    }

    func run(on group: MultiThreadedEventLoopGroup) async throws -> [String: Double] {
        let loop = group.next()
        return try await loop.flatSubmit { self.begin(on: loop) }.get()
    }

    private func begin(on loop: any EventLoop) -> EventLoopFuture<[String: Double]> {
        let opens = (0..<connections).map { index in target.open(on: loop) { _ in self.received(on: index) } }
        return EventLoopFuture.whenAllSucceed(opens, on: loop).flatMap { sockets in
            self.sockets = sockets
            self.start = .now()
            self.end = self.start + .nanoseconds(Int64(self.seconds * 1e9))
            if let rate = self.rate {
                let interval = Int64(1e9 * Double(self.connections) / Double(rate))
                for index in 0..<self.connections {
                    self.sendOpenLoop(
                        index,
                        at: self.start + .nanoseconds(interval * Int64(index) / Int64(self.connections)),
                        every: .nanoseconds(interval),
                        on: loop
                    )
                }
            } else {
                for index in 0..<self.connections { self.sendClosedLoop(index) }
            }
            let done = loop.makePromise(of: [String: Double].self)
            loop.scheduleTask(deadline: self.end + .milliseconds(500)) {
                for socket in self.sockets { socket.close() }
                var result = self.latencies.summary()
                result["messages"] = Double(self.count)
                result["messagesPerSecond"] = (Double(self.count) / self.seconds).rounded()
                result["unanswered"] = Double(zip(self.due, self.head).reduce(0) { $0 + $1.0.count - $1.1 })
                done.succeed(result)
            }
            return done.futureResult
        }
    }

    private func sendClosedLoop(_ index: Int) {
        due[index].append(.now())
        sockets[index].send(payload)
    }

    private func sendOpenLoop(_ index: Int, at time: NIODeadline, every interval: TimeAmount, on loop: any EventLoop) {
        guard time < end else { return }
        loop.scheduleTask(deadline: time) {
            // Every message that has come due is sent now, each keeping its due time.
            var next = time
            while next <= .now() && next < self.end {
                self.due[index].append(next)
                self.sockets[index].send(self.payload)
                next = next + interval
            }
            self.sendOpenLoop(index, at: next, every: interval, on: loop)
        }
    }

    private func received(on index: Int) {
        let now = NIODeadline.now()
        guard head[index] < due[index].count else { return }
        let sent = due[index][head[index]]
        head[index] += 1
        if head[index] > 1024 {
            due[index].removeFirst(head[index])
            head[index] = 0
        }
        guard now <= end else { return }
        count += 1
        latencies.samples.append(UInt64((now - sent).nanoseconds))
        if rate == nil { sendClosedLoop(index) }
    }
}

/// Authenticated handshakes, `concurrency` at a time: connect, upgrade, close. Confined to its
/// event loop.
final class HandshakeRun: @unchecked Sendable {
    let target: WebSocketTarget
    let count: Int
    let concurrency: Int
    private var started = 0
    private var finished = 0
    private var failed = 0
    private var latencies = Latencies()
    private var start = NIODeadline.now()

    init(target: WebSocketTarget, count: Int, concurrency: Int) {
        self.target = target
        self.count = count
        self.concurrency = concurrency
    }

    func run(on group: MultiThreadedEventLoopGroup) async throws -> [String: Double] {
        let loop = group.next()
        return try await loop.flatSubmit {
            let done = loop.makePromise(of: [String: Double].self)
            self.start = .now()
            for _ in 0..<min(self.concurrency, self.count) { self.next(on: loop, done: done) }
            return done.futureResult
        }.get()
    }

    private func next(on loop: any EventLoop, done: EventLoopPromise<[String: Double]>) {
        guard started < count else { return }
        started += 1
        let begun = NIODeadline.now()
        target.open(on: loop) { _ in }.whenComplete { result in
            switch result {
            case .success(let socket):
                self.latencies.samples.append(UInt64((NIODeadline.now() - begun).nanoseconds))
                socket.close()
            case .failure:
                self.failed += 1
            }
            self.finished += 1
            guard self.finished == self.count else { return self.next(on: loop, done: done) }
            let elapsed = Double((NIODeadline.now() - self.start).nanoseconds) / 1e9
            var result = self.latencies.summary()
            result["handshakes"] = Double(self.count - self.failed)
            result["failed"] = Double(self.failed)
            result["handshakesPerSecond"] = (Double(self.count - self.failed) / elapsed).rounded()
            done.succeed(result)
        }
    }
}

/// Opens `connections` WebSocket connections, says so on standard output, and holds them until
/// standard input closes (the benchmark script reads the proxy's memory meanwhile).
final class IdleRun: @unchecked Sendable {
    let target: WebSocketTarget
    let connections: Int
    private var opened: [WebSocketConnection] = []

    init(target: WebSocketTarget, connections: Int) {
        self.target = target
        self.connections = connections
    }

    func run(on group: MultiThreadedEventLoopGroup) async throws -> [String: Double] {
        let loop = group.next()
        let count = try await loop.flatSubmit { self.wave(from: 0, on: loop) }.get()
        FileHandle.standardOutput.write(Data("open \(count)\n".utf8))
        while readLine() != nil {}
        try await loop.submit { for connection in self.opened { connection.close() } }.get()
        return ["connections": Double(count)]
    }

    /// In waves of 200, so that no listen backlog overflows.
    private func wave(from: Int, on loop: any EventLoop) -> EventLoopFuture<Int> {
        guard from < connections else { return loop.makeSucceededFuture(opened.count) }
        let batch = (from..<min(connections, from + 200)).map { _ in target.open(on: loop) { _ in } }
        return EventLoopFuture.whenAllSucceed(batch, on: loop).flatMap { sockets in
            self.opened += sockets
            return self.wave(from: from + 200, on: loop)
        }
    }
}
