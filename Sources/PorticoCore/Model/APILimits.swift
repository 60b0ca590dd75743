import Foundation

/// What the gateway enforces for one API on top of its subscribers' plans. nil fields take the
/// gateway's defaults.
package struct APILimits: Sendable, Equatable {
    /// Events per time unit for all the API's subscribers together (WSO2's advanced policy).
    package var eventCeiling: BusinessPlan.EventLimit?
    /// The largest message (and frame), either way, when the subscription's plan sets none.
    package var maxMessageBytes: Int?
    /// Close a connection that relayed no data frame either way for this long; 0: never.
    package var idleTimeoutSeconds: Int?
    /// Close a connection this long after it opened; 0: never.
    package var maxLifetimeSeconds: Int?
    /// `Origin` values a browser handshake may carry (`https://app.example.com`); empty: any.
    /// A handshake without `Origin` (not from a browser) is always allowed.
    package var allowedOrigins: [String]

    package init(
        eventCeiling: BusinessPlan.EventLimit? = nil,
        maxMessageBytes: Int? = nil,
        idleTimeoutSeconds: Int? = nil,
        maxLifetimeSeconds: Int? = nil,
        allowedOrigins: [String] = []
    ) {
        self.eventCeiling = eventCeiling
        self.maxMessageBytes = maxMessageBytes
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.maxLifetimeSeconds = maxLifetimeSeconds
        self.allowedOrigins = allowedOrigins
    }

    /// The longest idle timeout or lifetime an API may set (7 days).
    package static let maxSeconds = 604_800

    /// An origin as browsers send it, lower-cased: `scheme://host[:port]`, no path.
    package static func normalizedOrigin(_ origin: String) -> String? {
        guard let url = URLComponents(string: origin), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil, url.fragment == nil,
            url.user == nil
        else { return nil }
        return "\(scheme)://\(host.lowercased())" + (url.port.map { ":\($0)" } ?? "")
    }

    func validate() throws {
        if let bytes = maxMessageBytes, !BusinessPlan.messageBytesRange.contains(bytes) {
            throw FieldError(field: "limits.maxMessageBytes", reason: "Expected 1 to 67108864 bytes, not \(bytes)")
        }
        for (field, value) in [("limits.idleTimeoutSeconds", idleTimeoutSeconds), ("limits.maxLifetimeSeconds", maxLifetimeSeconds)] {
            if let value, !(0...Self.maxSeconds).contains(value) {
                throw FieldError(field: field, reason: "Expected 0 (never) to \(Self.maxSeconds) seconds, not \(value)")
            }
        }
        for origin in allowedOrigins where Self.normalizedOrigin(origin) == nil {
            throw FieldError(
                field: "limits.allowedOrigins",
                reason: "'\(origin)' is not an origin: use scheme://host[:port], such as https://app.example.com"
            )
        }
    }
}

/// How the gateway treats an API's backend endpoints (WSO2's endpoint settings): the connect
/// timeout, and suspension after consecutive connect failures, during which handshakes are answered
/// 503 at once. nil fields take the defaults below; initial and maximum duration 0 and 0: never suspend.
package struct EndpointResilience: Sendable, Equatable {
    /// Connect plus backend handshake, in milliseconds (`actionDuration`); nil: `GATEWAY_BACKEND_CONNECT_TIMEOUT`.
    package var connectTimeoutMs: Int?
    /// Consecutive connect failures that suspend the endpoint (`retryTimeOut`, the retries before suspension, + 1).
    package var suspendAfterFailures: Int?
    /// The first suspension, in milliseconds (`suspendDuration`).
    package var suspendInitialMs: Int64?
    /// The longest suspension, in milliseconds (`suspendMaxDuration`).
    package var suspendMaxMs: Int64?
    /// Each further failure multiplies the suspension by this (`factor`).
    package var suspendFactor: Double?

    package init(
        connectTimeoutMs: Int? = nil,
        suspendAfterFailures: Int? = nil,
        suspendInitialMs: Int64? = nil,
        suspendMaxMs: Int64? = nil,
        suspendFactor: Double? = nil
    ) {
        self.connectTimeoutMs = connectTimeoutMs
        self.suspendAfterFailures = suspendAfterFailures
        self.suspendInitialMs = suspendInitialMs
        self.suspendMaxMs = suspendMaxMs
        self.suspendFactor = suspendFactor
    }

    package static let defaultSuspendAfterFailures = 3
    package static let defaultSuspendInitialMs: Int64 = 10_000
    package static let defaultSuspendMaxMs: Int64 = 300_000
    package static let defaultSuspendFactor = 2.0

    package var effectiveSuspendAfterFailures: Int { suspendAfterFailures ?? Self.defaultSuspendAfterFailures }
    package var effectiveSuspendInitialMs: Int64 { suspendInitialMs ?? Self.defaultSuspendInitialMs }
    package var effectiveSuspendMaxMs: Int64 { suspendMaxMs ?? Self.defaultSuspendMaxMs }
    package var effectiveSuspendFactor: Double { suspendFactor ?? Self.defaultSuspendFactor }
    /// Initial and maximum duration both 0: the endpoint is never suspended.
    package var suspends: Bool { !(effectiveSuspendInitialMs == 0 && effectiveSuspendMaxMs == 0) }

    func validate() throws {
        let prefix = "endpointConfig.config."
        if let timeout = connectTimeoutMs, !(1...300_000).contains(timeout) {
            throw FieldError(field: prefix + "actionDuration", reason: "Expected 1 to 300000 milliseconds, not \(timeout)")
        }
        if let failures = suspendAfterFailures, !(1...1000).contains(failures) {
            throw FieldError(field: prefix + "retryTimeOut", reason: "Expected 0 to 999 retries before suspension")
        }
        if let factor = suspendFactor, !(1...100).contains(factor) {
            throw FieldError(field: prefix + "factor", reason: "Expected a factor from 1 to 100, not \(factor)")
        }
        let initial = effectiveSuspendInitialMs
        let maximum = effectiveSuspendMaxMs
        let day: Int64 = 86_400_000
        guard (initial == 0 && maximum == 0) || (initial > 0 && maximum >= initial && maximum <= day) else {
            throw FieldError(
                field: prefix + "suspendMaxDuration",
                reason: "suspendDuration (\(initial) ms) and suspendMaxDuration (\(maximum) ms) must both be 0 (never suspend), "
                    + "or 0 < suspendDuration <= suspendMaxDuration <= \(day)"
            )
        }
    }
}
