import Foundation
import Testing

@testable import PorticoCore
@testable import gateway

/// The connection log's lines are written by hand (`JSONLine`); they must be what `JSONEncoder`
/// with sorted keys and unescaped slashes wrote before, byte for byte, so that nothing reading the
/// log sees a difference.
@Suite struct ConnectionLogLineTests {
    /// Every ASCII control character, both characters JSON escapes, a slash, and UTF-8 beyond ASCII
    /// (including the two line separators JavaScript once disliked, which JSON leaves alone).
    static let awkward = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self) + "\"\\/ é\u{2028}\u{2029}😀\u{7F}"

    static func encoded(_ line: ConnectionLog.Line) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(line)) + [UInt8(ascii: "\n")]
    }

    static func record(_ text: String) -> HandshakeRecord {
        var record = HandshakeRecord(
            connectionID: ConnectionID.make(),
            path: "/echo/1?access_token=REDACTED&q=" + text,
            clientAddress: "::1",
            userAgent: text
        )
        record.api = .init(id: "api-" + text, name: text, version: "1.0.0")
        record.caller = Caller(
            jti: "jti",
            consumerKey: "key",
            applicationID: "app",
            applicationName: text,
            subscriber: text,
            keyType: .sandbox,
            expiresAt: Date()
        )
        return record
    }

    @Test(arguments: ["plain", awkward, ""])
    func anAcceptedConnectionsLineIsWhatTheEncoderWrote(text: String) throws {
        var entry = ConnectionLog.Entry(Self.record(text), node: "node-" + text, status: 101, end: Date().addingTimeInterval(1.2345))
        (entry.messagesIn, entry.messagesOut, entry.bytesIn, entry.bytesOut) = (3, 4, 1 << 40, 0)
        (entry.closeCode, entry.closedBy, entry.closeReason) = (1001, "client", text)
        let line = ConnectionLog.Line.connection(entry)
        #expect(line.json == (try Self.encoded(line)))
    }

    @Test func aRefusedHandshakesLineLeavesOutWhatWasNotKnown() throws {
        var entry = ConnectionLog.Entry(
            HandshakeRecord(connectionID: "c1", path: "", clientAddress: "unknown", userAgent: nil),
            node: "n",
            status: 401,
            end: Date()
        )
        (entry.refusalReason, entry.refusalMessage) = ("invalid_token", Self.awkward)
        let line = ConnectionLog.Line.connection(entry)
        #expect(line.json == (try Self.encoded(line)))
        #expect(!String(decoding: line.json, as: UTF8.self).contains("apiId"))
    }

    @Test(arguments: [true, false])
    func aManagementLineIsWhatTheEncoderWrote(full: Bool) throws {
        let entry = ConnectionLog.ManagementEntry(
            node: "n",
            time: JSONLine.timestamp(Date()),
            action: "send",
            shape: "aws",
            keyId: Self.awkward,
            connectionId: "c1",
            apiId: full ? "api" : nil,
            status: 410,
            bytes: full ? 64 : nil,
            closeCode: full ? -1 : nil,
            via: full ? Self.awkward : nil
        )
        let line = ConnectionLog.Line.management(entry)
        #expect(line.json == (try Self.encoded(line)))
    }

    /// The timestamps are Foundation's ISO 8601 with milliseconds (truncated, UTC).
    @Test func timestampsAreFoundationsISO8601() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var dates = [0, 1.9995, 1.0009999, 951_782_400.5, 1_796_305_486.9999, 4_102_444_799.999].map(Date.init(timeIntervalSince1970:))
        dates.append(Date())
        for _ in 0..<2_000 { dates.append(Date(timeIntervalSince1970: Double.random(in: 0...4_000_000_000))) }
        for date in dates {
            #expect(JSONLine.timestamp(date) == date.formatted(style), "\(date.timeIntervalSince1970)")
        }
    }

    @Test func connectionIDsAreVersion4UUIDs() throws {
        #expect(ConnectionID.format(Array(0..<16)) == "00010203-0405-4607-8809-0a0b0c0d0e0f")
        #expect(ConnectionID.format(Array(repeating: 0xFF, count: 16)) == "ffffffff-ffff-4fff-bfff-ffffffffffff")
        var seen = Set<String>()
        for _ in 0..<1_000 {
            let id = ConnectionID.make()
            let parsed = try #require(UUID(uuidString: id))
            #expect(parsed.uuidString.lowercased() == id)
            #expect(Array(id.utf8)[14] == UInt8(ascii: "4"))
            #expect(try ConnectionManagementController.connectionID(Substring(id)) == id)
            seen.insert(id)
        }
        #expect(seen.count == 1_000)
    }
}
