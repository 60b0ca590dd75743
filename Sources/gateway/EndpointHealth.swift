import NIOConcurrencyHelpers
import NIOCore
import PorticoCore

/// Endpoint suspension, per API endpoint on this gateway (WSO2's endpoint states): after
/// `suspendAfterFailures` consecutive connect failures (timeout, refused, unreachable) the endpoint
/// is suspended for the initial duration, and for `factor` times longer after each further failure,
/// up to the maximum. While it is suspended, handshakes are answered 503 with `Retry-After` at once;
/// when the suspension ends the next handshake tries the backend again, and its first successful
/// connect ends the suspension for good. A backend that answers its handshake with an HTTP error
/// is up: that is not a connect failure.
final class EndpointHealth: Sendable {
    /// Suspension follows the API's endpoint settings, so it is kept per API and endpoint URL.
    struct Endpoint: Hashable, Sendable {
        let apiID: String
        let url: String
    }

    fileprivate struct State {
        var failures = 0
        var suspendedUntil: NIODeadline?
        var lastSuspensionMs: Int64 = 0
    }

    fileprivate let states = NIOLockedValueBox<[Endpoint: State]>([:])

    /// 503 while `endpoint` is suspended.
    func check(_ endpoint: Endpoint, now: NIODeadline = .now()) throws(Refusal) {
        guard let state = states.withLockedValue({ $0[endpoint] }), let until = state.suspendedUntil, until > now else { return }
        let seconds = max(1, Int(((until - now).nanoseconds + 999_999_999) / 1_000_000_000))
        throw Refusal(
            status: .serviceUnavailable,
            code: "endpoint_suspended",
            message: "The backend endpoint is suspended after \(state.failures) consecutive connect failure(s); retry in \(seconds) s",
            extraHeaders: [("Retry-After", "\(seconds)")]
        )
    }

    /// A connect failure; suspends the endpoint when the policy says so.
    func failed(_ endpoint: Endpoint, _ resilience: EndpointResilience, now: NIODeadline = .now()) {
        guard resilience.suspends else { return }
        states.withLockedValue { states in
            var state = states[endpoint] ?? State()
            state.failures += 1
            if state.failures >= resilience.effectiveSuspendAfterFailures {
                let next =
                    state.lastSuspensionMs == 0
                    ? resilience.effectiveSuspendInitialMs
                    : Int64(Double(state.lastSuspensionMs) * resilience.effectiveSuspendFactor)
                let duration = min(max(next, 1), resilience.effectiveSuspendMaxMs)
                state.lastSuspensionMs = duration
                state.suspendedUntil = now + .milliseconds(duration)
            }
            states[endpoint] = state
        }
    }

    /// A successful connect: the endpoint is healthy again.
    func succeeded(_ endpoint: Endpoint) {
        _ = states.withLockedValue { $0.removeValue(forKey: endpoint) }
    }
}

extension EndpointHealth {
    /// Endpoints suspended at `now` (the `portico_gateway_suspended_endpoints` gauge).
    func suspendedCount(now: NIODeadline = .now()) -> Int {
        states.withLockedValue { $0.values.count { ($0.suspendedUntil ?? now) > now } }
    }
}
