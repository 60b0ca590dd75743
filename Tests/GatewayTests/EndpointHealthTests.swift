import NIOCore
import PorticoCore
import Testing

@testable import gateway

/// Endpoint suspension on its own, on a clock the test moves.
@Suite struct EndpointHealthTests {
    let endpoint = EndpointHealth.Endpoint(apiID: "api", url: "ws://backend")
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    func retryAfter(_ health: EndpointHealth, at time: NIODeadline) -> String? {
        do throws(Refusal) {
            try health.check(endpoint, now: time)
            return nil
        } catch {
            #expect(error.status == .serviceUnavailable && error.code == "endpoint_suspended")
            return error.extraHeaders.first { $0.0 == "Retry-After" }?.1
        }
    }

    @Test func suspensionsGrowByTheFactorUpToTheMaximumAndASuccessEndsThem() {
        let health = EndpointHealth()
        let policy = EndpointResilience(suspendAfterFailures: 2, suspendInitialMs: 2000, suspendMaxMs: 5000, suspendFactor: 2)
        health.failed(endpoint, policy, now: start)
        #expect(retryAfter(health, at: start) == nil, "one failure of two")
        health.failed(endpoint, policy, now: start)
        #expect(retryAfter(health, at: start) == "2")
        #expect(retryAfter(health, at: start + .milliseconds(2000)) == nil, "the suspension is over: the backend is tried again")
        health.failed(endpoint, policy, now: start + .seconds(2))
        #expect(retryAfter(health, at: start + .seconds(2)) == "4", "twice as long")
        health.failed(endpoint, policy, now: start + .seconds(6))
        #expect(retryAfter(health, at: start + .seconds(6)) == "5", "never longer than the maximum")
        health.succeeded(endpoint)
        #expect(retryAfter(health, at: start + .seconds(6)) == nil)
        health.failed(endpoint, policy, now: start + .seconds(7))
        #expect(retryAfter(health, at: start + .seconds(7)) == nil, "a success starts the count again")
    }

    @Test func zeroAndZeroNeverSuspends() {
        let health = EndpointHealth()
        let policy = EndpointResilience(suspendAfterFailures: 1, suspendInitialMs: 0, suspendMaxMs: 0)
        for _ in 0..<5 { health.failed(endpoint, policy, now: start) }
        #expect(retryAfter(health, at: start) == nil)
    }
}
