import Metrics
import NIOConcurrencyHelpers
import NIOCore
import PorticoCore

/// The gateway's metrics, recorded through swift-metrics into the process's Prometheus registry
/// (`/metrics` on the admin listener; docs/operations.md says what each means). Every label is
/// bounded: API ids, refusal codes, close codes folded into a fixed set, directions and sides —
/// never a client address, token or application. Handles are made once and kept: each connection
/// holds its API's counters, so the relay, and the rate limiter on every message over a limit, only
/// add to atomics.
final class GatewayMetrics: Sendable {
    /// One API's connection, relay and rate-limit counters.
    final class APICounters: Sendable {
        /// Messages and payload bytes one way: `in` is client to backend.
        struct Direction: Sendable {
            let messages: Counter
            let bytes: Counter

            init(apiID: String, _ direction: String) {
                messages = Counter(label: "portico_gateway_messages_total", dimensions: [("api", apiID), ("direction", direction)])
                bytes = Counter(label: "portico_gateway_bytes_total", dimensions: [("api", apiID), ("direction", direction)])
            }
        }

        let active: Meter
        let inbound: Direction
        let outbound: Direction
        private let droppedByRate: Counter
        private let closedByRate: Counter

        init(apiID: String) {
            active = Meter(label: "portico_gateway_active_connections", dimensions: [("api", apiID)])
            inbound = Direction(apiID: apiID, "in")
            outbound = Direction(apiID: apiID, "out")
            droppedByRate = Counter(label: "portico_gateway_rate_limited_total", dimensions: [("api", apiID), ("action", "drop")])
            closedByRate = Counter(label: "portico_gateway_rate_limited_total", dimensions: [("api", apiID), ("action", "close")])
        }

        /// A message over a rate limit, dropped or closing its connection.
        func rateLimited(_ action: BusinessPlan.ExcessAction) {
            (action == .drop ? droppedByRate : closedByRate).increment()
        }
    }

    private let apis = NIOLockedValueBox<[String: APICounters]>([:])
    private let counters = NIOLockedValueBox<[String: Counter]>([:])
    private let accepted: Counter
    private let acceptedHandshakes: Timer
    private let refusedHandshakes: Timer
    private let suspended: Gauge
    private let endpoints: EndpointHealth

    init(endpoints: EndpointHealth) {
        PorticoMetrics.bootstrap()
        accepted = Counter(label: "portico_gateway_handshakes_total", dimensions: [("result", "accepted"), ("reason", "none"), ("status", "101")])
        acceptedHandshakes = Timer(label: "portico_gateway_handshake_duration_seconds", dimensions: [("result", "accepted")])
        refusedHandshakes = Timer(label: "portico_gateway_handshake_duration_seconds", dimensions: [("result", "refused")])
        suspended = Gauge(label: "portico_gateway_suspended_endpoints")
        self.endpoints = endpoints
    }

    func api(_ apiID: String) -> APICounters {
        apis.withLockedValue { apis in
            if let counters = apis[apiID] { return counters }
            let counters = APICounters(apiID: apiID)
            apis[apiID] = counters
            return counters
        }
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = label + dimensions.map { "|\($0.1)" }.joined()
        return counters.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: dimensions)
            counters[key] = counter
            return counter
        }
    }

    /// A handshake's outcome and how long it took from the request to the answer, backend connect
    /// included: `reason` is the refusal's code (`missing_token`, `not_subscribed`, …) or `none`.
    func handshake(refusal: Refusal?, startedAt: NIODeadline) {
        let elapsed = Int64((NIODeadline.now() - startedAt).nanoseconds)
        guard let refusal else {
            accepted.increment()
            acceptedHandshakes.recordNanoseconds(elapsed)
            return
        }
        counter("portico_gateway_handshakes_total", [("result", "refused"), ("reason", refusal.code), ("status", "\(refusal.status.code)")])
            .increment()
        refusedHandshakes.recordNanoseconds(elapsed)
    }

    /// A connection's end: the close code that ended it and who sent it (`client`, `backend`, or
    /// `gateway`); the code is `abnormal` when a side vanished without a close frame, `none` when
    /// its close frame carried no code.
    func closed(_ end: ConnectionEnd) {
        let code = end.vanished ? "abnormal" : end.code.map(Self.label(forCloseCode:)) ?? "none"
        counter("portico_gateway_closes_total", [("code", code), ("initiator", end.initiator.rawValue)]).increment()
    }

    /// A backend that could not be reached or refused its handshake; `reason` is the refusal's code.
    func backendConnectFailed(apiID: String, reason: String) {
        counter("portico_gateway_backend_connect_failures_total", [("api", apiID), ("reason", reason)]).increment()
    }

    /// One call of an API's route integration: its route key (at most 64 per API, the provider's
    /// own) and its outcome (`ok`, `failed` — a status other than 2xx —, `timeout`, `unreachable`).
    func integrationCall(apiID: String, route: String, outcome: String) {
        counter("portico_gateway_integration_calls_total", [("api", apiID), ("route", route), ("outcome", outcome)]).increment()
    }

    /// A connection management call: its action (`get`, `send`, `disconnect`) and answer's status.
    func managementCall(action: String, status: Int) {
        counter("portico_gateway_management_calls_total", [("action", action), ("status", "\(status)")]).increment()
    }

    /// A connection-log line dropped because the log's buffer was full.
    func connectionLogDropped() {
        counter("portico_gateway_connection_log_dropped_total", []).increment()
    }

    /// Usage rows written to PostgreSQL, and flushes that failed (their rows are kept for the next).
    func usageFlushed(rows: Int, failed: Bool) {
        if failed {
            counter("portico_gateway_usage_flush_failures_total", []).increment()
        } else {
            counter("portico_gateway_usage_rows_written_total", []).increment(by: rows)
        }
    }

    /// The text exposition, with the gauges that are read rather than counted brought up to date.
    func render() -> ByteBuffer {
        suspended.record(endpoints.suspendedCount())
        return ByteBuffer(bytes: PorticoMetrics.registry.emitToBuffer())
    }

    /// Close codes as a bounded label: the standard codes and the gateway's own as they are,
    /// application codes by range.
    static func label(forCloseCode code: UInt16) -> String {
        switch code {
        case 1000...1015, 4001...4003: "\(code)"
        case 3000...3999: "3xxx"
        case 4000...4999: "4xxx"
        default: "other"
        }
    }
}
