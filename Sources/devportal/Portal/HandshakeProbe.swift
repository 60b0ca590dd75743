import Foundation
import NIOCore
import NIOPosix
import PorticoCore

/// Repeats a WebSocket handshake the browser's console could not make, to learn what the gateway
/// answered: a browser's WebSocket API reports only "closed, 1006", never the refusal's status and
/// reason. The probe sends the same request (path, `?access_token=`, the page's `Origin`) to the
/// gateway's public address, reads the status line and the JSON body (at most 16 KiB, 3 s), and
/// closes. A 101 means the gateway would take the connection now.
struct HandshakeProbe: Sendable {
    let gateway: PublicGatewayAddress
    static let timeout = TimeAmount.seconds(3)
    static let maxAnswerBytes = 16_384

    struct Outcome: Sendable, Equatable {
        /// The HTTP status, or 0 when the gateway could not be reached.
        let status: Int
        let reason: String
    }

    func handshake(path: String, accessToken: String, origin: String?) async -> Outcome {
        guard accessToken.utf8.count <= 8192, path.hasPrefix("/"), TextInput.firstControlCharacter(in: path) == nil else {
            return Outcome(status: 0, reason: "Nothing to ask the gateway: the token or the path is not one a browser would send")
        }
        let unreserved = CharacterSet.alphanumerics.union(.init(charactersIn: "-._~"))
        let token = accessToken.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
        var request = "GET \(path)?access_token=\(token) HTTP/1.1\r\nHost: \(gateway.host):\(gateway.port)\r\n"
        request += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        request += "Sec-WebSocket-Key: \(Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString())\r\n"
        if let origin, origin.utf8.count <= 256, TextInput.firstControlCharacter(in: origin) == nil { request += "Origin: \(origin)\r\n" }
        request += "\r\n"
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(Self.timeout)
                .connect(host: gateway.host, port: gateway.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let deadline = channel.channel.eventLoop.scheduleTask(in: Self.timeout) { channel.channel.close(promise: nil) }
            defer { deadline.cancel() }
            let answer = try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: request))
                var received = ByteBuffer()
                for try await chunk in inbound {
                    received.writeImmutableBuffer(chunk)
                    if Self.complete(received) || received.readableBytes >= Self.maxAnswerBytes { break }
                }
                return received
            }
            return Self.outcome(of: answer)
        } catch {
            return Outcome(status: 0, reason: "The gateway at \(gateway.host):\(gateway.port) could not be reached")
        }
    }

    /// Whether the answer's head and its whole body (by `Content-Length`) are in.
    static func complete(_ buffer: ByteBuffer) -> Bool {
        let text = String(buffer: buffer)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        if text.hasPrefix("HTTP/1.1 101") { return true }
        let head = text[..<end.lowerBound].lowercased()
        let length =
            head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        return text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length
    }

    /// The status and the refusal's reason (its JSON `message`, else the status line's words).
    static func outcome(of answer: ByteBuffer) -> Outcome {
        let text = String(buffer: answer)
        let statusLine = text.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            return Outcome(status: 0, reason: "The gateway's answer was not HTTP")
        }
        if status == 101 { return Outcome(status: 101, reason: "The gateway accepts this handshake now; connect again") }
        var reason = parts.count > 2 ? String(parts[2]) : ""
        if let end = text.range(of: "\r\n\r\n"), let body = try? JSONDecoder().decode(PageValue.self, from: Data(text[end.upperBound...].utf8)) {
            reason = body["message"]?.string ?? reason
        }
        return Outcome(status: status, reason: String(reason.prefix(512)))
    }
}
