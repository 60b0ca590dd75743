import Foundation
import PorticoCore
import PorticoTestSupport
import Testing

/// What an outside security test found, pinned against the gateway in process (`InProcessStack`)
/// over real sockets: bytes a client library would never send, written by hand.
@Suite(.serialized) struct GatewayHardeningTests {
    /// A token whose JOSE header is `header` (any JSON), with a payload and signature that do not matter.
    static func token(header: Data) -> String {
        header.base64URLEncoded + "." + Data("{}".utf8).base64URLEncoded + "." + Data(repeating: 7, count: 32).base64URLEncoded
    }

    /// The header names a refusal may carry: anything else in a response head was injected.
    static let refusalHeaders: Set<String> = ["content-type", "content-length", "connection", "www-authenticate", "retry-after"]

    static func expectCleanRefusal(_ head: String, status: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = head.components(separatedBy: "\r\n")
        #expect(lines.first?.hasPrefix("HTTP/1.1 \(status) ") == true, "\(head)", sourceLocation: sourceLocation)
        for line in lines.dropFirst() {
            let name = line.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            #expect(refusalHeaders.contains(name), "unexpected header line '\(line)' in \(head)", sourceLocation: sourceLocation)
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(line)", sourceLocation: sourceLocation)
        }
    }

    /// Sends `request` as it is and returns the connection once the gateway has answered and closed.
    static func exchange(_ url: String, _ request: [UInt8], within seconds: Double = 5) async throws -> RawConnection {
        let connection = try await RawConnection(url)
        try await connection.send(request)
        #expect(await connection.closed(within: seconds), "the gateway closes after refusing: \(connection.text.prefix(300))")
        return connection
    }

    // MARK: - The handshake

    /// Finding 2: a JOSE header field with CR LF (or any byte) never reaches a response header —
    /// through `Authorization` or `?access_token=` — and every refusal's head has only its own headers.
    @Test func nothingFromATokenReachesAResponseHeader() async throws {
        try await InProcessStack.run { stack in
            let injected = Self.token(header: Data(#"{"alg":"RS256\r\nSet-Cookie: session=attacker","kid":"k"}"#.utf8))
            let encoded = injected.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            for request in [
                RawConnection.upgradeRequest("/echowebsocket/1.0.0", extra: ["Authorization: Bearer \(injected)"]),
                RawConnection.upgradeRequest("/echowebsocket/1.0.0?access_token=\(encoded)"),
            ] {
                let connection = try await Self.exchange(stack.gatewayURL, Array(request.utf8))
                Self.expectCleanRefusal(connection.response.head, status: 401)
                #expect(!connection.text.lowercased().contains("set-cookie"), "\(connection.text)")
            }
            // Random bytes in the header's fields: always a 401 whose head is the refusal's own.
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<30 {
                let bytes = (0..<Int.random(in: 1...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let field = String(decoding: bytes, as: UTF8.self)
                let header = try JSONSerialization.data(withJSONObject: [
                    ["alg", "kid", "typ"].randomElement(using: &generator)!: field, "alg2": field,
                ])
                let request = RawConnection.upgradeRequest("/echowebsocket/1.0.0", extra: ["Authorization: Bearer \(Self.token(header: header))"])
                let connection = try await Self.exchange(stack.gatewayURL, Array(request.utf8))
                Self.expectCleanRefusal(connection.response.head, status: 401)
            }
        }
    }

    /// Finding 7: a token is accepted in one spelling only — not with `=` padding, not in the
    /// standard base64 alphabet — by the gateway and by the devportal's introspection.
    @Test func aTokenHasExactlyOneSpelling() async throws {
        try await InProcessStack.run { stack in
            let parts = stack.token.split(separator: ".").map(String.init)
            let standard = parts[2].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            try #require(standard != parts[2], "the signature has a '-' or '_' to respell")
            let spellings = ["\(stack.token)=", "\(parts[0]).\(parts[1]).\(parts[2])==", "\(parts[0]).\(parts[1]).\(standard)"]
            #expect(await TestClient.refusal("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)") == 101)
            for spelling in spellings {
                let encoded = spelling.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let (head, body) = try await RawHandshake.performReadingBody(stack.gatewayURL, path: "/echowebsocket/1.0.0?access_token=\(encoded)")
                #expect(head.status.code == 401 && body["code"].string == "malformed_token", "\(spelling): \(body)")
                let (_, introspection) = try await HTTP.send(
                    "POST",
                    "\(stack.devportalURL)/oauth2/introspect",
                    body: "token=\(encoded)",
                    headers: HTTP.basic(stack.consumerKey, stack.consumerSecret).merging(["Content-Type": "application/x-www-form-urlencoded"]) {
                        a,
                        _ in a
                    }
                )
                #expect(HTTP.json(introspection)["active"].bool == false, "\(spelling)")
            }
        }
    }

    /// Findings 3 and 8: malformed HTTP gets 400 (431 for a header block over the limit) with the
    /// JSON body, and the connection is closed; so does a handshake with a body.
    @Test func malformedRequestsAreAnsweredAndClosed() async throws {
        try await InProcessStack.run { stack in
            let cases: [(String, [UInt8], Int, String)] = [
                (
                    "128 KB of headers",
                    Array(("GET /echowebsocket/1.0.0 HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 131_072) + "\r\n\r\n").utf8),
                    431, "headers_too_large"
                ),
                ("a garbage request line", [0x01, 0x02] + Array("garbage\r\n\r\n".utf8), 400, "malformed_request"),
                (
                    "a header line without a colon", Array("GET /echowebsocket/1.0.0 HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n".utf8), 400,
                    "malformed_request"
                ),
                ("HTTP/9.9", Array("GET /echowebsocket/1.0.0 HTTP/9.9\r\nHost: x\r\n\r\n".utf8), 400, "malformed_request"),
                (
                    "a body", Array((RawConnection.upgradeRequest("/echowebsocket/1.0.0", extra: ["Content-Length: 5"]) + "hello").utf8),
                    400, "unexpected_body"
                ),
            ]
            for (what, request, status, code) in cases {
                let connection = try await Self.exchange(stack.gatewayURL, request)
                let (head, json) = connection.response
                Self.expectCleanRefusal(head, status: status)
                #expect(json["code"].string == code, "\(what): \(connection.text.prefix(300))")
                #expect(json["message"].string != nil, "\(what)")
            }
            // A REST body over the limit without a Content-Length (chunked) gets the JSON error too.
            for (port, path, kind) in [
                (stack.publisherURL, "/api/am/publisher/v4/apis", "json"), (stack.devportalURL, "/api/am/devportal/v3/signup", "json"),
                (stack.devportalURL, "/oauth2/token", "form"),
            ] {
                let url = URL(string: port)!
                let connection = try await RawConnection("http://\(url.host!):\(url.port!)")
                let type = kind == "json" ? "application/json" : "application/x-www-form-urlencoded"
                try await connection.send(
                    "POST \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(Data("admin:\(TestSettings.adminPassword)".utf8).base64EncodedString())\r\n"
                        + "Content-Type: \(type)\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                let chunk = String(repeating: "a", count: 65_536)
                for _ in 0..<40 where !connection.isClosed && !connection.text.contains("\r\n\r\n") {
                    try? await connection.send("10000\r\n\(chunk)\r\n")
                }
                #expect(
                    await eventually(within: 5) { connection.response.head.hasPrefix("HTTP/1.1 413") && !connection.response.json.isNull },
                    "\(path): \(connection.text.prefix(400))"
                )
                let json = connection.response.json
                #expect(
                    kind == "json" ? json["code"].int == 413 && json["description"].string != nil : json["error"].string != nil,
                    "\(path): \(json)"
                )
                connection.close()
            }
        }
    }

    /// Finding 4: a connection that sends nothing, or one byte at a time, is answered 408 and closed
    /// at the handshake deadline; beyond the pending limit a new connection gets 503 at once; and
    /// once those are gone, handshakes work again.
    @Test func handshakesHaveADeadlineAndABound() async throws {
        try await InProcessStack.run(extra: ["GATEWAY_HANDSHAKE_TIMEOUT": "1", "GATEWAY_MAX_PENDING_HANDSHAKES": "3"]) { stack in
            let silent = try await RawConnection(stack.gatewayURL)
            let slow = try await RawConnection(stack.gatewayURL)
            let slowWriter = Task {
                for byte in RawConnection.upgradeRequest("/echowebsocket/1.0.0").utf8 where !slow.isClosed {
                    try? await slow.send([byte])
                    await pause(.milliseconds(200))
                }
            }
            let third = try await RawConnection(stack.gatewayURL)
            await pause(.milliseconds(200))
            let refused = try await RawConnection(stack.gatewayURL)
            #expect(await refused.closed(within: 3))
            Self.expectCleanRefusal(refused.response.head, status: 503)
            #expect(refused.response.json["code"].string == "too_many_handshakes")
            #expect(refused.text.contains("Retry-After: 1"))
            for connection in [silent, slow, third] {
                #expect(await connection.closed(within: 4), "closed at the deadline")
                Self.expectCleanRefusal(connection.response.head, status: 408)
                #expect(connection.response.json["code"].string == "handshake_timeout")
            }
            slowWriter.cancel()
            #expect(
                await TestClient.refusal("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)") == 101,
                "the slots are given back"
            )
        }
    }

    // MARK: - Frames

    /// Opens a relayed connection by hand; returns it with its connection id once the 101 is in.
    static func open(_ stack: InProcessStack) async throws -> (RawConnection, String) {
        let connection = try await RawConnection(stack.gatewayURL)
        try await connection.send(RawConnection.upgradeRequest("/echowebsocket/1.0.0?access_token=\(stack.token)"))
        #expect(await eventually(within: 5) { connection.text.contains("\r\n\r\n") })
        let head = connection.response.head
        #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
        let id =
            head.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("x-portico-connection-id:") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? ""
        return (connection, id)
    }

    /// The connection log's line for connection `id`.
    static func logLine(_ stack: InProcessStack, _ id: String) async -> JSON {
        var found = JSON.null
        _ = await eventually(within: 5) {
            for line in stack.connectionLogOutput.split(separator: "\n") where line.contains(id) && line.hasPrefix("{") {
                found = JSON(parsing: String(line))
            }
            return !found.isNull
        }
        return found
    }

    /// Finding 5: the gateway holds both sides to RFC 6455 — an unmasked client frame, a reserved
    /// opcode, an RSV bit nothing negotiated, an invalid close code or a one-byte close payload
    /// get 1002, a close reason that is not UTF-8 1007; the backend gets 1001; and the connection
    /// log records the gateway's valid code (never 1005 or 1006, which are not codes on the wire).
    @Test func framesThatBreakTheProtocolAreClosedByTheGateway() async throws {
        try await InProcessStack.run { stack in
            let text = Array("hello".utf8)
            let cases: [(String, [UInt8], UInt16)] = [
                ("unmasked text", RawConnection.frame(firstByte: 0x81, payload: text, masked: false), 1002),
                ("reserved opcode 3", RawConnection.frame(firstByte: 0x83, payload: text), 1002),
                ("reserved control opcode 11", RawConnection.frame(firstByte: 0x8B, payload: []), 1002),
                ("RSV2", RawConnection.frame(firstByte: 0xA1, payload: text), 1002),
                ("RSV1 without permessage-deflate", RawConnection.frame(firstByte: 0xC1, payload: text), 1002),
                ("continuation without a message", RawConnection.frame(firstByte: 0x80, payload: text), 1002),
                ("close code 1005", RawConnection.frame(firstByte: 0x88, payload: [0x03, 0xED]), 1002),
                ("close code 999", RawConnection.frame(firstByte: 0x88, payload: [0x03, 0xE7]), 1002),
                ("close payload of one byte", RawConnection.frame(firstByte: 0x88, payload: [0x03]), 1002),
                ("close reason not UTF-8", RawConnection.frame(firstByte: 0x88, payload: [0x03, 0xE8, 0xFF, 0xFE]), 1007),
            ]
            for (what, frame, code) in cases {
                let before = stack.echoOutput.components(separatedBy: "close 1001").count
                let (connection, id) = try await Self.open(stack)
                try await connection.send(frame)
                #expect(await connection.closed(within: 5), "\(what)")
                #expect(connection.closeCodes.first == code, "\(what): \(connection.closeCodes)")
                #expect(
                    await eventually(within: 5) { stack.echoOutput.components(separatedBy: "close 1001").count > before },
                    "\(what): the backend is told 1001"
                )
                let line = await Self.logLine(stack, id)
                #expect(line["closeCode"].int == Int(code) && line["closedBy"].string == "gateway", "\(what): \(line)")
            }
            // A close without a code: relayed as it is, logged without a code.
            let (connection, id) = try await Self.open(stack)
            try await connection.send(RawConnection.frame(firstByte: 0x88, payload: []))
            #expect(await connection.closed(within: 5))
            let line = await Self.logLine(stack, id)
            #expect(line["closedBy"].string == "client" && line["closeCode"] == nil, "\(line)")
            #expect(!stack.connectionLogOutput.contains(#""closeCode":1005"#) && !stack.connectionLogOutput.contains(#""closeCode":1006"#))
        }
    }

    // MARK: - Operability

}
