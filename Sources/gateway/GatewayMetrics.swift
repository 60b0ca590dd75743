import Atomics
import NIOConcurrencyHelpers
import PorticoCore

/// The gateway's counters, rendered in the Prometheus text format at the admin listener's
/// `/metrics`. Per-message counters are atomics; the rest change once per connection.
final class GatewayMetrics: Sendable {
    private let active = ManagedAtomic<Int>(0)
    private let messagesIn = ManagedAtomic<Int>(0)
    private let messagesOut = ManagedAtomic<Int>(0)
    private let bytesIn = ManagedAtomic<Int>(0)
    private let bytesOut = ManagedAtomic<Int>(0)
    private let handshakes = NIOLockedValueBox<[String: Int]>([:])
    private let closes = NIOLockedValueBox<[String: Int]>([:])
    private let droppedByRate = ManagedAtomic<Int>(0)
    private let closedByRate = ManagedAtomic<Int>(0)

    /// An event over a rate limit, dropped or closing its connection.
    func rateLimited(action: BusinessPlan.ExcessAction) {
        (action == .drop ? droppedByRate : closedByRate).wrappingIncrement(ordering: .relaxed)
    }

    func connectionOpened() { active.wrappingIncrement(ordering: .relaxed) }
    func connectionClosed() { active.wrappingDecrement(ordering: .relaxed) }
    var activeConnections: Int { active.load(ordering: .relaxed) }

    /// A data or control frame relayed; `client` means client→backend ("in").
    func message(from side: RelayHandler.Side, bytes: Int, isControl: Bool) {
        let (messages, total) = side == .client ? (messagesIn, bytesIn) : (messagesOut, bytesOut)
        if !isControl { messages.wrappingIncrement(ordering: .relaxed) }
        total.wrappingIncrement(by: bytes, ordering: .relaxed)
    }

    /// A handshake's outcome: `accepted`, or the refusal's code (`missing_token`, `not_subscribed`, …).
    func handshake(_ result: String, status: Int) {
        handshakes.withLockedValue { $0["result=\"\(result)\",status=\"\(status)\"", default: 0] += 1 }
    }

    /// A close frame the gateway sent of its own accord.
    func closeSent(code: UInt16, to side: RelayHandler.Side) {
        closes.withLockedValue { $0["code=\"\(code)\",to=\"\(side.rawValue)\"", default: 0] += 1 }
    }

    func render() -> String {
        var text = """
        # HELP portico_gateway_active_connections Open proxied WebSocket connections.
        # TYPE portico_gateway_active_connections gauge
        portico_gateway_active_connections \(active.load(ordering: .relaxed))
        # HELP portico_gateway_messages_total Data frames relayed, by direction (in: client to backend).
        # TYPE portico_gateway_messages_total counter
        portico_gateway_messages_total{direction="in"} \(messagesIn.load(ordering: .relaxed))
        portico_gateway_messages_total{direction="out"} \(messagesOut.load(ordering: .relaxed))
        # HELP portico_gateway_bytes_total Payload bytes relayed, by direction.
        # TYPE portico_gateway_bytes_total counter
        portico_gateway_bytes_total{direction="in"} \(bytesIn.load(ordering: .relaxed))
        portico_gateway_bytes_total{direction="out"} \(bytesOut.load(ordering: .relaxed))
        # HELP portico_gateway_rate_limited_total Messages over a rate limit, by the plan's excess action.
        # TYPE portico_gateway_rate_limited_total counter
        portico_gateway_rate_limited_total{action="drop"} \(droppedByRate.load(ordering: .relaxed))
        portico_gateway_rate_limited_total{action="close"} \(closedByRate.load(ordering: .relaxed))
        # HELP portico_gateway_handshakes_total Handshakes by result and HTTP status.
        # TYPE portico_gateway_handshakes_total counter

        """
        for (labels, count) in handshakes.withLockedValue({ $0 }).sorted(by: { $0.key < $1.key }) {
            text += "portico_gateway_handshakes_total{\(labels)} \(count)\n"
        }
        text += """
        # HELP portico_gateway_closes_total Close frames the gateway sent itself, by code and side.
        # TYPE portico_gateway_closes_total counter

        """
        for (labels, count) in closes.withLockedValue({ $0 }).sorted(by: { $0.key < $1.key }) {
            text += "portico_gateway_closes_total{\(labels)} \(count)\n"
        }
        return text
    }
}
