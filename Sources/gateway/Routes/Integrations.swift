import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PorticoCore
import Synchronization

/// One call of a route's integration: an HTTP request (through the gateway's AsyncHTTPClient
/// with its keep-alive pool, `client`) or a MOCK answer, for a connection's `$connect`, a message, or `$disconnect`.
/// Every HTTP call carries Portico's headers (`X-Portico-Connection-Id`, `-Event-Type`,
/// `-Connected-At`, `-Message-Id`, `-Request-Id`, `-Route-Key`, and on `$disconnect`
/// `-Close-Code` and `-Close-Reason`), then the route's mapped parameters. A value from outside
/// (a query parameter, a header, a message's field) that holds a control character is not sent.
enum Integrations {
    enum Event: String {
        case connect = "CONNECT"
        case message = "MESSAGE"
        case disconnect = "DISCONNECT"
    }

    /// An integration's answer: its status, headers and body (at most `maxAnswerBytes`).
    struct Answer {
        let status: Int
        let headers: HTTPHeaders
        let body: ByteBuffer

        var succeeded: Bool { (200..<300).contains(status) }

        /// Text for JSON and `text/*` answers, binary otherwise.
        var isText: Bool {
            guard let type = headers.first(name: "Content-Type")?.lowercased() else { return true }
            return type.hasPrefix("text/") || type.hasPrefix("application/json") || type.contains("+json")
        }

        /// The `message` of a JSON answer, or its body as text, bounded: a refused `$connect`'s reason.
        var reason: String {
            let text = String(buffer: body)
            if let value = APIRoutes.value(at: ["message"], inJSON: text) { return String(value.prefix(200)) }
            return String(text.prefix(200))
        }
    }

    enum Failure: Error {
        /// The call took longer than the integration's `timeoutMillis`.
        case timeout
        /// No answer: the host could not be reached, the connection broke, the answer was too big.
        case failed(String)
    }

    /// A call's outcome as the metric `portico_gateway_integration_calls_total` labels it.
    static func outcome(_ result: Result<Answer, any Error>) -> String {
        switch result {
        case .success(let answer): answer.succeeded ? "ok" : "failed"
        case .failure(Failure.timeout): "timeout"
        case .failure: "unreachable"
        }
    }

    /// The gateway's client for integrations verified against `caFile` (nil: the system's roots):
    /// keep-alive connections pooled per host (up to `maxConnectionsPerHost`, the rest of the calls
    /// waiting for one), redirects never followed (a message and its mapped headers go where the
    /// route says, nowhere else). Clients live as long as the process.
    static func client(caFile: String?) -> HTTPClient {
        clients.withLock { clients in
            if let client = clients[caFile ?? ""] { return client }
            var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = maxConnectionsPerHost
            configuration.connectionPool.idleTimeout = .seconds(60)
            // A host that refuses TLS or cannot be reached fails the call now, not at its deadline.
            configuration.connectionPool.retryConnectionEstablishment = false
            if let caFile {
                var tls = TLSConfiguration.makeClientConfiguration()
                tls.trustRoots = .file(caFile)
                configuration.tlsConfiguration = tls
            }
            let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
            clients[caFile ?? ""] = client
            return client
        }
    }
    /// One client per CA file (the key "" for the system's roots): AsyncHTTPClient verifies a
    /// pooled connection with its client's TLS configuration.
    private static let clients = Mutex<[String: HTTPClient]>([:])
    static let maxConnectionsPerHost = 256

    /// The largest answer body taken from an integration.
    static let maxAnswerBytes = 1 << 20

    /// A message for an integration: its bytes and whether it was binary.
    struct Message {
        let payload: ByteBuffer
        let binary: Bool
    }

    /// Calls `integration`; the future completes on `eventLoop`.
    static func call(
        _ integration: APIRoutes.Integration,
        event: Event,
        context: IntegrationContext,
        message: Message? = nil,
        close: (code: UInt16?, reason: String)? = nil,
        caFile: String?,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<Answer> {
        switch integration.type {
        case .mock:
            var headers = HTTPHeaders()
            for (name, value) in integration.headers ?? [:] { headers.add(name: name, value: value) }
            let body = context.render(integration.body ?? "", eventType: event.rawValue)
            return eventLoop.makeSucceededFuture(Answer(status: integration.status ?? 200, headers: headers, body: ByteBuffer(string: body)))
        case .http:
            do {
                let request = try httpRequest(integration, event: event, context: context, message: message, close: close)
                let deadline = NIODeadline.now() + .milliseconds(Int64(integration.timeout))
                return client(caFile: caFile).execute(
                    request: request,
                    delegate: ResponseAccumulator(request: request, maxBodySize: maxAnswerBytes),
                    // The shared client's own loops (a connection's loop may not be one of them): the
                    // answer hops to the connection's.
                    eventLoop: .indifferent,
                    deadline: deadline
                )
                .futureResult
                .hop(to: eventLoop)
                .map { Answer(status: Int($0.status.code), headers: $0.headers, body: $0.body ?? ByteBuffer()) }
                .flatMapErrorThrowing { error in
                    if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                        throw Failure.timeout
                    }
                    throw Failure.failed("\(error)")
                }
            } catch {
                return eventLoop.makeFailedFuture(Failure.failed("\(error)"))
            }
        }
    }

    static func httpRequest(
        _ integration: APIRoutes.Integration,
        event: Event,
        context: IntegrationContext,
        message: Message?,
        close: (code: UInt16?, reason: String)?
    ) throws -> HTTPClient.Request {
        var headers = HTTPHeaders()
        headers.add(name: "X-Portico-Connection-Id", value: context.connectionID)
        headers.add(name: "X-Portico-Event-Type", value: event.rawValue)
        headers.add(name: "X-Portico-Connected-At", value: String(context.connectedAt))
        headers.add(name: "X-Portico-Message-Id", value: context.messageID)
        headers.add(name: "X-Portico-Request-Id", value: context.requestID)
        headers.add(name: "X-Portico-Route-Key", value: safe(context.routeKey) ?? "")
        if let close {
            headers.add(name: "X-Portico-Close-Code", value: close.code.map(String.init) ?? "")
            // A reason with a line break (the client's own words) is sent without its control characters.
            let reason = String(close.reason.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(123))
            if let reason = safe(reason), !reason.isEmpty { headers.add(name: "X-Portico-Close-Reason", value: reason) }
        }
        var query: [String] = []
        for (target, source) in (integration.requestParameters ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let parsed = RequestParameter.Source(source), let value = context.value(of: parsed).flatMap(safe),
                let destination = RequestParameter.target(target)
            else { continue }
            switch destination {
            case .header(let name): headers.replaceOrAdd(name: name, value: value)
            case .query(let name): query.append("\(escaped(name))=\(escaped(value))")
            }
        }
        var url = integration.url ?? ""
        if !query.isEmpty { url += (url.contains("?") ? "&" : "?") + query.joined(separator: "&") }
        var body: HTTPClient.Body?
        if let message {
            let type =
                message.binary
                ? "application/octet-stream" : context.json != nil ? "application/json" : "text/plain; charset=utf-8"
            headers.add(name: "Content-Type", value: type)
            body = .byteBuffer(message.payload)
        }
        // Verified with the TLS configuration of the client for the API's CA file (`client(caFile:)`).
        return try HTTPClient.Request(url: url, method: HTTPMethod(rawValue: integration.method ?? "POST"), headers: headers, body: body)
    }

    /// A value fit for a header or a query: nil when it holds a control character, bounded.
    static func safe(_ value: String) -> String? {
        guard value.utf8.count <= 4096, !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return nil }
        return TextInput.firstControlCharacter(in: value) == nil ? value : nil
    }

    static func escaped(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? ""
    }
}

/// Time-ordered ids for messages and integration requests: UUIDv7 (RFC 9562), 48 bits of
/// milliseconds then random bits, so that ids sort by when they were made.
enum TimeOrderedID {
    static func next() -> String {
        let milliseconds = UInt64(Date().timeIntervalSince1970 * 1000)
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * UInt64(index))) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        // Hex by hand: Foundation's String(format:) costs microseconds a byte on Linux.
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
