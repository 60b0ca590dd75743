import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PorticoCore
import ServiceLifecycle

/// The connection log: one JSON line per connection when it ends, and per refused handshake, on
/// standard output (`GATEWAY_CONNECTION_LOG`: `stdout`, `stderr`, `off`, or an absolute file path,
/// appended to). Lines are queued and
/// written by this service off the event loops; a full queue (an output that blocks) drops lines
/// and counts them in `portico_gateway_connection_log_dropped_total`. No token is ever in a line:
/// the path has `access_token` redacted and no header but `User-Agent` is logged.
final class ConnectionLog: Service, Sendable {
    enum Destination: Sendable, Equatable {
        case stdout, stderr, off
        /// An absolute path: the file is created (mode 0640) if missing, and appended to.
        case file(String)

        init?(setting: String) {
            switch setting.lowercased() {
            case "stdout": self = .stdout
            case "stderr": self = .stderr
            case "off": self = .off
            default:
                guard setting.hasPrefix("/"), !setting.hasSuffix("/") else { return nil }
                self = .file(setting)
            }
        }
    }

    struct Entry: Encodable, Sendable {
        var event = "connection"
        let connectionId: String
        let node: String
        let handshake: String
        let status: Int
        var refusalReason: String?
        var refusalMessage: String?
        let path: String
        var apiId: String?
        var apiName: String?
        var apiVersion: String?
        var applicationId: String?
        var applicationName: String?
        var subscriber: String?
        var keyType: String?
        let clientAddress: String
        let userAgent: String?
        let start: String
        let durationMs: Int
        var messagesIn = 0
        var messagesOut = 0
        var bytesIn = 0
        var bytesOut = 0
        var closeCode: Int?
        var closedBy: String?
        var closeReason: String?

        init(_ record: HandshakeRecord, node: String, status: Int, end: Date) {
            connectionId = record.connectionID
            self.node = node
            handshake = status == 101 ? "accepted" : "refused"
            self.status = status
            path = record.path
            apiId = record.api?.id
            apiName = record.api?.name
            apiVersion = record.api?.version
            applicationId = record.caller?.applicationID
            applicationName = record.caller?.applicationName
            subscriber = record.caller?.subscriber
            keyType = record.caller?.keyType.rawValue
            clientAddress = record.clientAddress
            userAgent = record.userAgent
            start = JSONLine.timestamp(record.startedAt)
            durationMs = max(0, Int((end.timeIntervalSince(record.startedAt) * 1000).rounded()))
        }

        /// The line, its fields in sorted order.
        func write(to line: inout JSONLine) {
            line.field("apiId", apiId)
            line.field("apiName", apiName)
            line.field("apiVersion", apiVersion)
            line.field("applicationId", applicationId)
            line.field("applicationName", applicationName)
            line.field("bytesIn", bytesIn)
            line.field("bytesOut", bytesOut)
            line.field("clientAddress", clientAddress)
            line.field("closeCode", closeCode)
            line.field("closeReason", closeReason)
            line.field("closedBy", closedBy)
            line.field("connectionId", connectionId)
            line.field("durationMs", durationMs)
            line.field("event", event)
            line.field("handshake", handshake)
            line.field("keyType", keyType)
            line.field("messagesIn", messagesIn)
            line.field("messagesOut", messagesOut)
            line.field("node", node)
            line.field("path", path)
            line.field("refusalMessage", refusalMessage)
            line.field("refusalReason", refusalReason)
            line.field("start", start)
            line.field("status", status)
            line.field("subscriber", subscriber)
            line.field("userAgent", userAgent)
        }
    }

    /// A connection management call (`"event": "management"`): who acted on which connection, how,
    /// and the answer. Never the message itself: its size only.
    struct ManagementEntry: Encodable, Sendable {
        var event = "management"
        let node: String
        let time: String
        /// `get`, `send` or `disconnect`.
        let action: String
        /// Which API shape was called: `aws` or `yandex`.
        let shape: String
        /// The connection key's id that authorized the call.
        let keyId: String
        let connectionId: String
        let apiId: String?
        let status: Int
        var bytes: Int?
        var closeCode: Int?
        /// The gateway the call was made to, when it was carried here from another.
        var via: String?

        /// The line, its fields in sorted order.
        func write(to line: inout JSONLine) {
            line.field("action", action)
            line.field("apiId", apiId)
            line.field("bytes", bytes)
            line.field("closeCode", closeCode)
            line.field("connectionId", connectionId)
            line.field("event", event)
            line.field("keyId", keyId)
            line.field("node", node)
            line.field("shape", shape)
            line.field("status", status)
            line.field("time", time)
            line.field("via", via)
        }
    }

    /// One line of the log. Written by `json`; `Encodable` is what it must equal (JSONEncoder with
    /// sorted keys and unescaped slashes), which the tests compare.
    enum Line: Encodable, Sendable {
        case connection(Entry)
        case management(ManagementEntry)

        /// The line's JSON and its newline.
        var json: [UInt8] {
            var line = JSONLine()
            switch self {
            case .connection(let entry): entry.write(to: &line)
            case .management(let entry): entry.write(to: &line)
            }
            return line.finish()
        }

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .connection(let entry): try entry.encode(to: encoder)
            case .management(let entry): try entry.encode(to: encoder)
            }
        }
    }

    static let capacity = 100_000

    private let destination: Destination
    private let node: String
    private let metrics: GatewayMetrics
    private let queue = NIOLockedValueBox<[Line]>([])

    init(destination: Destination, node: String, metrics: GatewayMetrics) {
        self.destination = destination
        self.node = node
        self.metrics = metrics
    }

    /// A refused handshake's line.
    func refused(_ record: HandshakeRecord, _ refusal: Refusal) {
        var entry = Entry(record, node: node, status: Int(refusal.status.code), end: Date())
        entry.refusalReason = refusal.code
        entry.refusalMessage = refusal.message
        enqueue(.connection(entry))
    }

    /// An accepted connection's line, when it has ended.
    func ended(_ record: HandshakeRecord, usage: UsageCounts, end: ConnectionEnd?) {
        var entry = Entry(record, node: node, status: 101, end: Date())
        (entry.messagesIn, entry.messagesOut, entry.bytesIn, entry.bytesOut) = (usage.messagesIn, usage.messagesOut, usage.bytesIn, usage.bytesOut)
        entry.closeCode = end?.code.map { Int($0) }
        entry.closedBy = end?.initiator.rawValue
        entry.closeReason = end?.reason
        enqueue(.connection(entry))
    }

    /// A connection management call's audit line.
    func management(
        action: String,
        shape: String,
        keyID: String,
        connectionID: String,
        apiID: String?,
        status: Int,
        bytes: Int? = nil,
        closeCode: Int? = nil,
        via: String? = nil
    ) {
        enqueue(
            .management(
                ManagementEntry(
                    node: node,
                    time: JSONLine.timestamp(Date()),
                    action: action,
                    shape: shape,
                    keyId: keyID,
                    connectionId: connectionID,
                    apiId: apiID,
                    status: status,
                    bytes: bytes,
                    closeCode: closeCode,
                    via: via
                )
            )
        )
    }

    private func enqueue(_ entry: Line) {
        guard destination != .off else { return }
        let kept = queue.withLockedValue { queue in
            guard queue.count < Self.capacity else { return false }
            queue.append(entry)
            return true
        }
        if !kept { metrics.connectionLogDropped() }
    }

    func run() async throws {
        guard destination != .off else {
            // Nothing to write; but a service that returns ends the whole gateway, so it waits.
            try? await gracefulShutdown()
            return
        }
        let handle: FileHandle
        switch destination {
        case .stdout, .off: handle = .standardOutput
        case .stderr: handle = .standardError
        case .file(let path):
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]) else {
                    throw ConnectionLogFileError(path: path)
                }
            }
            guard let file = FileHandle(forWritingAtPath: path) else { throw ConnectionLogFileError(path: path) }
            file.seekToEndOfFile()
            handle = file
        }
        // Written until shutdown, then once more: the lines of connections the drain closed.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                self.write(to: handle)
                try? await pause(for: .milliseconds(100))
            }
        }
        write(to: handle)
    }

    private func write(to handle: FileHandle) {
        let entries = queue.withLockedValue { queue in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        guard !entries.isEmpty else { return }
        var data = Data()
        for entry in entries { data.append(contentsOf: entry.json) }
        handle.write(data)
    }
}

struct ConnectionLogFileError: Error, CustomStringConvertible {
    let path: String
    var description: String { "cannot open the connection log file \(path) for appending" }
}
