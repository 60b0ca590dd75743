import Foundation
import Hummingbird
import Logging
import PorticoCore

/// The admin listener (default 127.0.0.1:9098): `/health/live`, `/health/ready` and `/metrics`.
enum AdminServer {
    struct Health: Encodable {
        let status: String
        let database: String
        /// When the gateway last read the catalog — a full load's start or a change's read — to
        /// the millisecond (ISO 8601).
        let snapshotLoadedAt: String?
        /// How many snapshots there have been (each change applied makes one).
        let snapshotGeneration: Int
        let activeConnections: Int
        /// The last change (`seq` of the change log) the snapshot includes.
        var snapshotSeq: Int64? = nil
        /// How many times the whole catalog was loaded (the first load, the periodic safety net,
        /// a gap the change log could not fill).
        var snapshotFullLoads: Int? = nil
    }

    static let milliseconds = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func build(gateway: Gateway) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        router.get("health/live") { _, _ in
            try jsonResponse(
                Health(
                    status: "UP",
                    database: "",
                    snapshotLoadedAt: nil,
                    snapshotGeneration: gateway.snapshot.generation,
                    activeConnections: gateway.connections.count
                )
            )
        }
        router.get("health/ready") { _, _ in
            guard let table = gateway.snapshot.current else {
                return try jsonResponse(
                    Health(status: "DOWN", database: "UNKNOWN", snapshotLoadedAt: nil, snapshotGeneration: 0, activeConnections: 0),
                    status: .serviceUnavailable
                )
            }
            // Serving from the last snapshot while PostgreSQL is away is still serving: ready, but said.
            // Draining (SIGTERM) is not ready: no new clients, the open ones carry on until the drain ends.
            let listening = gateway.snapshot.isListening
            let draining = gateway.draining.load(ordering: .relaxed)
            return try jsonResponse(
                Health(
                    status: draining ? "DRAINING" : listening ? "UP" : "DEGRADED",
                    database: listening ? "UP" : "DOWN",
                    snapshotLoadedAt: table.loadedAt.formatted(Self.milliseconds),
                    snapshotGeneration: gateway.snapshot.generation,
                    activeConnections: gateway.connections.count,
                    snapshotSeq: table.seq,
                    snapshotFullLoads: gateway.snapshot.fullLoads
                ),
                status: draining ? .serviceUnavailable : .ok
            )
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: gateway.metrics.render())
            )
        }
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(gateway.settings.adminAddress, port: gateway.settings.adminPort),
                serverName: "portico-gateway-admin"
            ),
            logger: gateway.logger
        )
    }
}
