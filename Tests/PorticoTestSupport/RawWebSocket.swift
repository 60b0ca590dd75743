import Foundation

/// A blocking TCP client that speaks WebSocket frames byte by byte, to see RSV1 and payloads as
/// they cross the wire.
package final class RawWebSocket {
    package struct Frame {
        package let fin: Bool
        package let rsv1: Bool
        package let opcode: UInt8
        package let payload: [UInt8]

        /// A close frame's code (nil for other frames, or a close without one).
        package var closeCode: Int? {
            opcode == 8 && payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil
        }
    }

    package let descriptor: Int32
    package private(set) var status = 0
    package private(set) var responseHeaders: [String: String] = [:]
    private var buffered: [UInt8] = []

    package init(gatewayURL: String, path: String, extensions: String) throws {
        let url = URL(string: gatewayURL)!
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(url.port!).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        try write(
            Array(
                ("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: \(extensions)\r\n\r\n")
                    .utf8
            )
        )
        while !buffered.containsHeaderEnd { try fill() }
        let end = buffered.headerEnd
        let lines = String(decoding: buffered[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        buffered.removeFirst(end + 4)
        status = Int(lines[0].split(separator: " ")[1]) ?? 0
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            responseHeaders[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }

    deinit { close(descriptor) }

    package func send(opcode: UInt8, fin: Bool = true, rsv1: Bool, payload: [UInt8]) throws {
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        var frame: [UInt8] = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame.append(0x80 | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try write(frame)
    }

    package func receive() throws -> Frame {
        while buffered.count < 2 { try fill() }
        var length = Int(buffered[1] & 0x7F)
        var offset = 2
        if length == 126 {
            while buffered.count < 4 { try fill() }
            length = Int(buffered[2]) << 8 | Int(buffered[3])
            offset = 4
        }
        while buffered.count < offset + length { try fill() }
        let frame = Frame(
            fin: buffered[0] & 0x80 != 0,
            rsv1: buffered[0] & 0x40 != 0,
            opcode: buffered[0] & 0x0F,
            payload: Array(buffered[offset..<(offset + length)])
        )
        buffered.removeFirst(offset + length)
        return frame
    }

    /// The payloads of frames up to the one with FIN, joined.
    package func receiveMessage() throws -> [UInt8] {
        var payload: [UInt8] = []
        while true {
            let frame = try receive()
            payload += frame.payload
            if frame.fin { return payload }
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBytes { Foundation.send(descriptor, $0.baseAddress, $0.count, 0) }
        guard sent == bytes.count else { throw POSIXError(.EPIPE) }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw POSIXError(.ECONNRESET) }
        buffered += chunk[..<count]
    }
}

extension [UInt8] {
    fileprivate var headerEnd: Int {
        guard count >= 4 else { return -1 }
        for index in 0...(count - 4) where self[index] == 13 && self[index + 1] == 10 && self[index + 2] == 13 && self[index + 3] == 10 {
            return index
        }
        return -1
    }

    fileprivate var containsHeaderEnd: Bool { headerEnd >= 0 }
}
