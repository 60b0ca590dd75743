import Foundation
import NIOCore
import PorticoCore

/// The gateway's settings: the shared core settings plus its listeners, the token checks and the
/// relay's bounds.
struct GatewaySettings: Sendable {
    var core: CoreSettings
    /// `GATEWAY_BIND_ADDRESS` (default 0.0.0.0): where WebSocket clients connect.
    var bindAddress: String
    /// `GATEWAY_PORT` (default 9099): ws.
    var port: Int
    /// `GATEWAY_TLS_PORT` (default 8099): wss, served when a certificate and key are configured.
    var tlsPort: Int
    /// `GATEWAY_TLS_CERT_FILE`, `GATEWAY_TLS_KEY_FILE`: PEM paths; both or neither.
    var tlsCertificateFile: String?
    var tlsKeyFile: String?
    /// `GATEWAY_ADMIN_ADDRESS` (127.0.0.1) and `GATEWAY_ADMIN_PORT` (9098): health and metrics.
    var adminAddress: String
    var adminPort: Int
    /// `GATEWAY_MANAGEMENT_ADDRESS` (127.0.0.1) and `GATEWAY_MANAGEMENT_PORT` (9097): the connection
    /// management API, for the APIs' backends (never for clients: keep it off the public network).
    var managementAddress: String
    var managementPort: Int
    /// `DEVPORTAL_PUBLIC_URL` and `PORTICO_TOKEN_AUDIENCE`: the `iss` and `aud` tokens must carry.
    var tokenIssuer: String
    var tokenAudience: String
    /// `GATEWAY_TOKEN_LEEWAY` (default 30 s): clock skew allowed on `exp` and `nbf`.
    var tokenLeeway: TimeInterval
    /// `GATEWAY_TOKEN_CACHE_SIZE` (default 10000; 0: off): verified tokens remembered, so that a
    /// reconnect with the same token skips the signature check (`VerifiedTokens`).
    var tokenCacheSize: Int
    /// `GATEWAY_CLOSE_ON_TOKEN_EXPIRY` (default true): close a connection (4001) when its token expires.
    var closeOnTokenExpiry: Bool
    /// `GATEWAY_BACKEND_CONNECT_TIMEOUT` (default 10 s): connect plus handshake with the backend.
    var backendConnectTimeout: TimeInterval
    /// `GATEWAY_HANDSHAKE_TIMEOUT` (default 10 s): from the TCP accept to the client's complete
    /// handshake request (TLS included); later, 408 and the connection is closed.
    var handshakeTimeout: Int
    /// `GATEWAY_MAX_PENDING_HANDSHAKES` (default 1024): connections accepted whose handshake
    /// request is not complete yet; beyond, a new connection gets 503 with `Retry-After` at once.
    var maxPendingHandshakes: Int
    /// `GATEWAY_MAX_HEADER_BYTES` (default 16384): the request line and headers of a handshake
    /// together; larger, 431.
    var maxHeaderBytes: Int
    /// `GATEWAY_MAX_MESSAGE_BYTES` (default 1 MiB; `GATEWAY_MAX_FRAME_BYTES` is read when it is not
    /// set): the largest message, and so frame, either way when neither the plan nor the API sets one.
    /// Larger: 1009 to the sender, 1001 to the other side.
    var maxMessageBytes: Int
    /// `GATEWAY_IDLE_TIMEOUT` (default 600 s; 0: never): close a connection that relayed no data frame
    /// either way for this long, unless its API sets its own.
    var idleTimeout: Int
    /// `GATEWAY_MAX_LIFETIME` (default 0: none): close every connection this long after it opened,
    /// unless its API sets its own.
    var maxLifetime: Int
    /// `GATEWAY_PING_INTERVAL` (default 30 s; 0: off): the gateway pings both sides this often, and
    /// drops a side that sent nothing, not even the pong, by the next ping.
    var pingInterval: Int
    /// `GATEWAY_CLUSTER_SYNC_INTERVAL_MS` (default 100): how often this gateway reconciles event
    /// counts and connection counts with the other gateways through PostgreSQL.
    var clusterSyncIntervalMs: Int
    /// `GATEWAY_NODE_ID` (default `<host name>-<process id>`): this gateway's name among the cluster's.
    var nodeID: String
    /// `GATEWAY_CONNECTION_BUFFER_BYTES` (default 1 MiB): the most a connection buffers towards a
    /// peer that does not read before the gateway stops reading from the other side.
    var connectionBufferBytes: Int
    /// `GATEWAY_EVENT_LOOPS` (default: the CPUs the gateway may run on, `EventLoops.available`):
    /// the event-loop threads that carry connections.
    var eventLoops: Int
    /// `GATEWAY_CLIENT_PERMESSAGE_DEFLATE` (default true): accept a client's permessage-deflate offer.
    var clientDeflate: Bool
    /// `GATEWAY_BACKEND_PERMESSAGE_DEFLATE` (default true): offer permessage-deflate to backends.
    var backendDeflate: Bool
    /// `GATEWAY_RELOAD_INTERVAL` (default 600 s): full reload of the snapshot, as a safety net.
    var reloadInterval: TimeInterval
    /// `GATEWAY_DRAIN_SECONDS` (default 30 s): on SIGTERM, how long connections may finish.
    var drainSeconds: TimeInterval
    /// `GATEWAY_REUSE_PORT` (default true): the ws and wss listeners are opened with `SO_REUSEPORT`,
    /// so that a new gateway process on the same host can listen beside this one and take over
    /// (`gateway serve --replace PID`; docs/deploy.md). Only processes of the same user can join.
    var reusePort: Bool
    /// `gateway serve --replace PID`: the gateway process this one takes over from once it listens.
    var replacing: Int32? = nil
    /// `gateway serve --pid-file PATH`: written once the gateway listens, removed when it exits.
    var pidFile: String? = nil
    /// `GATEWAY_CONNECTION_LOG` (default `stdout`; `stderr`, `off`): where the connection log's JSON lines go.
    var connectionLog: ConnectionLog.Destination
    /// `GATEWAY_USAGE_FLUSH_INTERVAL_MS` (default 10000): how often usage is written to PostgreSQL.
    var usageFlushIntervalMs: Int
    /// `USAGE_RETENTION_DAYS` (default 90): usage rows older than this are pruned.
    var usageRetentionDays: Int

    init(source: SettingsSource) throws {
        core = try CoreSettings(source: source)
        bindAddress = source.string("GATEWAY_BIND_ADDRESS", default: "0.0.0.0")
        port = try source.port("GATEWAY_PORT", default: 9099)
        tlsPort = try source.port("GATEWAY_TLS_PORT", default: 8099)
        tlsCertificateFile = source.string("GATEWAY_TLS_CERT_FILE")
        tlsKeyFile = source.string("GATEWAY_TLS_KEY_FILE")
        if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
            throw InvalidSetting(
                key: tlsCertificateFile == nil ? "GATEWAY_TLS_CERT_FILE" : "GATEWAY_TLS_KEY_FILE",
                reason: "set both GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE, or neither"
            )
        }
        for (key, path) in [("GATEWAY_TLS_CERT_FILE", tlsCertificateFile), ("GATEWAY_TLS_KEY_FILE", tlsKeyFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw InvalidSetting(key: key, reason: "cannot read '\(path)'")
            }
        }
        adminAddress = source.string("GATEWAY_ADMIN_ADDRESS", default: "127.0.0.1")
        adminPort = try source.port("GATEWAY_ADMIN_PORT", default: 9098)
        managementAddress = source.string("GATEWAY_MANAGEMENT_ADDRESS", default: "127.0.0.1")
        managementPort = try source.port("GATEWAY_MANAGEMENT_PORT", default: 9097)
        tokenIssuer = source.string("DEVPORTAL_PUBLIC_URL", default: "http://localhost:9081")
        tokenAudience = source.string("PORTICO_TOKEN_AUDIENCE", default: "portico-gateway")
        tokenLeeway = TimeInterval(try source.int("GATEWAY_TOKEN_LEEWAY", default: 30, range: 0...600))
        closeOnTokenExpiry = try source.bool("GATEWAY_CLOSE_ON_TOKEN_EXPIRY", default: true)
        tokenCacheSize = try source.int("GATEWAY_TOKEN_CACHE_SIZE", default: 10_000, range: 0...1_000_000)
        backendConnectTimeout = TimeInterval(try source.int("GATEWAY_BACKEND_CONNECT_TIMEOUT", default: 10, range: 1...300))
        handshakeTimeout = try source.int("GATEWAY_HANDSHAKE_TIMEOUT", default: 10, range: 1...300)
        maxPendingHandshakes = try source.int("GATEWAY_MAX_PENDING_HANDSHAKES", default: 1024, range: 1...1_000_000)
        maxHeaderBytes = try source.int("GATEWAY_MAX_HEADER_BYTES", default: 16_384, range: 1024...1_048_576)
        let messageBytesKey =
            source.string("GATEWAY_MAX_MESSAGE_BYTES") == nil && source.string("GATEWAY_MAX_FRAME_BYTES") != nil
            ? "GATEWAY_MAX_FRAME_BYTES" : "GATEWAY_MAX_MESSAGE_BYTES"
        maxMessageBytes = try source.int(messageBytesKey, default: 1_048_576, range: BusinessPlan.messageBytesRange)
        idleTimeout = try source.int("GATEWAY_IDLE_TIMEOUT", default: 600, range: 0...APILimits.maxSeconds)
        maxLifetime = try source.int("GATEWAY_MAX_LIFETIME", default: 0, range: 0...APILimits.maxSeconds)
        pingInterval = try source.int("GATEWAY_PING_INTERVAL", default: 30, range: 0...3600)
        clusterSyncIntervalMs = try source.int("GATEWAY_CLUSTER_SYNC_INTERVAL_MS", default: 100, range: 10...10_000)
        nodeID = source.string("GATEWAY_NODE_ID", default: "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)")
        connectionBufferBytes = try source.int("GATEWAY_CONNECTION_BUFFER_BYTES", default: 1_048_576, range: 4096...(64 * 1_048_576))
        eventLoops = try source.int("GATEWAY_EVENT_LOOPS", default: EventLoops.available, range: 1...1024)
        clientDeflate = try source.bool("GATEWAY_CLIENT_PERMESSAGE_DEFLATE", default: true)
        backendDeflate = try source.bool("GATEWAY_BACKEND_PERMESSAGE_DEFLATE", default: true)
        reloadInterval = TimeInterval(try source.int("GATEWAY_RELOAD_INTERVAL", default: 600, range: 1...86_400))
        drainSeconds = TimeInterval(try source.int("GATEWAY_DRAIN_SECONDS", default: 30, range: 0...3600))
        reusePort = try source.bool("GATEWAY_REUSE_PORT", default: true)
        let log = source.string("GATEWAY_CONNECTION_LOG", default: "stdout")
        guard let destination = ConnectionLog.Destination(setting: log) else {
            throw InvalidSetting(key: "GATEWAY_CONNECTION_LOG", reason: "not one of stdout, stderr, off, or an absolute file path")
        }
        connectionLog = destination
        usageFlushIntervalMs = try source.int("GATEWAY_USAGE_FLUSH_INTERVAL_MS", default: 10_000, range: 100...600_000)
        usageRetentionDays = try source.int("USAGE_RETENTION_DAYS", default: 90, range: 1...3650)
    }
}

extension GatewaySettings {
    /// Both sockets' write buffer bounds: a side stops being writable above `connectionBufferBytes`
    /// (the relay then stops reading the other side) and writable again below half of it.
    var writeBufferWaterMark: ChannelOptions.Types.WriteBufferWaterMark {
        .init(low: connectionBufferBytes / 2, high: connectionBufferBytes)
    }
}
