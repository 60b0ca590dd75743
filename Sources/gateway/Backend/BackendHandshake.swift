import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

extension Backend {
    static func acceptValue(for key: String) -> String {
        Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }
}

/// The backend handshake's result, completed once by whichever comes first: the response, a
/// connect failure or the time-out.
final class HandshakeOutcome: Sendable {
    private let promise: EventLoopPromise<HTTPResponseHead>
    private let done = NIOLockedValueBox(false)

    init(_ promise: EventLoopPromise<HTTPResponseHead>) {
        self.promise = promise
    }

    var futureResult: EventLoopFuture<HTTPResponseHead> { promise.futureResult }

    func complete(_ result: Result<HTTPResponseHead, any Error>) {
        let first = done.withLockedValue { done in
            defer { done = true }
            return !done
        }
        if first { promise.completeWith(result) }
    }
}

/// The WebSocket handshake with the backend, on the socket's bytes: the request head is written as
/// `HTTPHead.request` made it, the response head is read by `BackendResponse` — no HTTP encoder,
/// header validator and decoder to add to the backend's pipeline and take out again (together
/// about 4 % of a handshake's profile). A refusal is answered as soon as its status line is in (its
/// body is not needed); a 101 once its head is complete. Bytes after the 101's head — frames a
/// backend sent at once — go to the relay when this handler leaves the pipeline
/// (`RelayPipeline.switchToWebSocket`), after the switch that the 101 started has finished.
final class BackendHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The most a backend's response head may take.
    static let maxResponseHeadBytes = 65_536

    private let request: ByteBuffer
    private let outcome: HandshakeOutcome
    private var received: ByteBuffer?
    private var response = BackendResponse()
    private var answered = false
    /// Bytes after the 101's head, handed on when this handler leaves.
    private var leftover: ByteBuffer?
    /// Set while a read is being handled: a removal asked for meanwhile (the 101 switches the
    /// pipeline synchronously) waits until the read is done.
    private var reading = false
    private var removal: ChannelHandlerContext.RemovalToken?

    init(request: ByteBuffer, outcome: HandshakeOutcome) {
        self.request = request
        self.outcome = outcome
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if answered {
            // Read after the 101 and before the switch took this handler out: for the relay too.
            if leftover == nil { leftover = bytes } else { leftover!.writeBuffer(&bytes) }
            return
        }
        if received == nil { received = bytes } else { received!.writeBuffer(&bytes) }
        let parsed = response.parse(received!)
        let result: Result<HTTPResponseHead, any Error>
        switch parsed {
        case .incomplete:
            guard received!.readableBytes > Self.maxResponseHeadBytes else { return }
            result = .failure(Backend.Failure.protocolViolation("its response head is over \(Self.maxResponseHeadBytes) bytes"))
        case .invalid(let why):
            result = .failure(Backend.Failure.protocolViolation(why))
        case .refused(let head):
            result = .success(head)
        case .switching(let head, let headBytes):
            received!.moveReaderIndex(forwardBy: headBytes)
            if received!.readableBytes > 0 { leftover = received }
            result = .success(head)
        }
        answered = true
        received = nil
        reading = true
        outcome.complete(result)
        reading = false
        if let removal {
            self.removal = nil
            leave(context: context, removalToken: removal)
        }
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        if reading {
            removal = removalToken
        } else {
            leave(context: context, removalToken: removalToken)
        }
    }

    private func leave(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        if let bytes = leftover {
            leftover = nil
            context.fireChannelRead(wrapInboundOut(bytes))
            context.fireChannelReadComplete()
        }
        context.leavePipeline(removalToken: removalToken)
    }

    func channelInactive(context: ChannelHandlerContext) {
        outcome.complete(.failure(Backend.Failure.unreachable("the backend closed the connection during the handshake")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        outcome.complete(.failure(Backend.Failure.unreachable("\(error)")))
        context.close(promise: nil)
    }
}

/// The backend's response head, read from its bytes (RFC 9112 §4, §5) as they come: a status line
/// `HTTP/1.x NNN reason`, then header lines `name: value`, then an empty line. Each byte is looked
/// at once however the head is split into reads. Strict where a lenient reading could be fooled
/// — no whitespace before a colon, no folded lines, no control characters, a bare CR or LF is no
/// line end — since the gateway trusts what it reads here (`Sec-WebSocket-Accept`, the
/// subprotocol, the extensions).
struct BackendResponse {
    enum Parsed {
        /// More bytes are needed.
        case incomplete
        /// Not a 101: the status line is enough.
        case refused(HTTPResponseHead)
        /// A 101 and the number of bytes its head took.
        case switching(HTTPResponseHead, headBytes: Int)
        case invalid(String)
    }

    /// The most of a reason phrase that is kept (for the refusal's message).
    static let maxReasonBytes = 64
    /// The most header lines a 101 may have.
    static let maxHeaderLines = 128

    private var status: (HTTPVersion, HTTPResponseStatus)?
    private var headers = HTTPHeaders()
    /// Where the next line starts, and where the search for its end goes on.
    private var lineStart = 0
    private var scanned = 0

    /// Reads on in `buffer`, which holds everything received so far (from its reader index).
    mutating func parse(_ buffer: ByteBuffer) -> Parsed {
        buffer.withUnsafeReadableBytes { bytes -> Parsed in
            do throws(Invalid) {
                while let end = lineEnd(in: bytes) {
                    let line = bytes[lineStart..<end]
                    lineStart = end + 2
                    scanned = lineStart
                    guard let (version, code) = status else {
                        let (version, code) = try Self.statusLine(line)
                        if code != .switchingProtocols { return .refused(HTTPResponseHead(version: version, status: code)) }
                        status = (version, code)
                        continue
                    }
                    if line.isEmpty {
                        return .switching(HTTPResponseHead(version: version, status: code, headers: headers), headBytes: lineStart)
                    }
                    guard headers.count < Self.maxHeaderLines else { throw Invalid("its response has over \(Self.maxHeaderLines) header lines") }
                    let (name, value) = try Self.headerLine(line)
                    headers.add(name: name, value: value)
                }
                return .incomplete
            } catch {
                return .invalid(error.why)
            }
        }
    }

    /// Why a head is not one the gateway reads.
    private struct Invalid: Error {
        let why: String
        init(_ why: String) { self.why = why }
    }

    /// The index of the CR of the current line's CRLF, if it is in; the search resumes where it
    /// stopped.
    private mutating func lineEnd(in bytes: UnsafeRawBufferPointer) -> Int? {
        while scanned + 1 < bytes.count {
            if bytes[scanned] == UInt8(ascii: "\r") && bytes[scanned + 1] == UInt8(ascii: "\n") { return scanned }
            scanned += 1
        }
        return nil
    }

    /// `HTTP/1.0` or `HTTP/1.1`, a space, three digits, then nothing or a space and the reason.
    private static func statusLine(_ line: Slice<UnsafeRawBufferPointer>) throws(Invalid) -> (HTTPVersion, HTTPResponseStatus) {
        let at = line.startIndex
        guard line.count >= 12, line.starts(with: "HTTP/1.".utf8), let minor = digit(line[at + 7]), minor <= 1,
            line[at + 8] == UInt8(ascii: " "), let d1 = digit(line[at + 9]), let d2 = digit(line[at + 10]),
            let d3 = digit(line[at + 11]), (1...5).contains(d1), line.count == 12 || line[at + 12] == UInt8(ascii: " ")
        else {
            throw Invalid("its status line is not HTTP/1.x")
        }
        let reasonBytes = line.dropFirst(13)
        guard reasonBytes.allSatisfy(HTTPHead.isValueByte) else { throw Invalid("its status line has a control character") }
        // Kept short and ASCII: it may be quoted in a refusal's message.
        let reason = String(decoding: reasonBytes.prefix(maxReasonBytes).map { $0 < 0x80 ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
        return (HTTPVersion(major: 1, minor: minor), HTTPResponseStatus(statusCode: d1 * 100 + d2 * 10 + d3, reasonPhrase: reason))
    }

    private static func headerLine(_ line: Slice<UnsafeRawBufferPointer>) throws(Invalid) -> (String, String) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
            line[line.startIndex..<colon].allSatisfy(HTTPHead.isTokenByte)
        else { throw Invalid("a header line is malformed") }
        var value = line[(colon + 1)...]
        while let first = value.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { value = value.dropFirst() }
        while let last = value.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { value = value.dropLast() }
        guard value.allSatisfy(HTTPHead.isValueByte) else { throw Invalid("a header line is malformed") }
        return (String(decoding: line[line.startIndex..<colon], as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }
}
