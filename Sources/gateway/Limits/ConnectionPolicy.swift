import NIOCore
import PorticoCore

/// What the gateway enforces on one connection, resolved from a snapshot: the subscription's plan,
/// the application's plan and the API's own limits, with the gateway's defaults where none is set.
/// Resolved again on every snapshot change, so that an edited plan applies to live connections.
struct ConnectionPolicy: Equatable {
    /// A token bucket the connection's events are taken from, all of them for each event.
    struct Bucket: Equatable {
        let key: String
        let limit: BusinessPlan.EventLimit
    }

    var buckets: [Bucket] = []
    var countsClientToBackend = true
    var countsBackendToClient = true
    var excessAction: BusinessPlan.ExcessAction = .drop
    var maxMessageBytes: Int
    /// nil: never.
    var idleTimeout: TimeAmount?
    var maxLifetime: TimeAmount?
    /// The subscription whose plan caps concurrent connections (nil: no subscription, e.g. PROTOTYPED).
    var subscriptionID: String?
    /// 0: no cap.
    var maxConnections = 0

    func counts(from side: RelaySide) -> Bool {
        side == .client ? countsClientToBackend : countsBackendToClient
    }

    static func resolve(_ caller: Caller, _ api: GatewayCatalog.API, in table: RouteTable, settings: GatewaySettings) -> ConnectionPolicy {
        var policy = ConnectionPolicy(maxMessageBytes: settings.maxMessageBytes)
        var planBytes: Int?
        if let subscription = table.subscription(application: caller.applicationID, api: api.id), api.state != .prototyped {
            policy.subscriptionID = subscription.id
            if let plan = table.plan(id: subscription.planID) {
                if let limit = plan.eventLimit { policy.buckets.append(Bucket(key: "subscription:\(subscription.id)", limit: limit)) }
                policy.countsClientToBackend = plan.countedDirections.countsClientToBackend
                policy.countsBackendToClient = plan.countedDirections.countsBackendToClient
                policy.excessAction = plan.excessAction
                policy.maxConnections = plan.maxConnections
                planBytes = plan.maxMessageBytes
            }
        }
        if let limit = table.applicationLimit(caller.applicationID) {
            policy.buckets.append(Bucket(key: "application:\(caller.applicationID)", limit: limit))
        }
        if let limit = api.limits.eventCeiling { policy.buckets.append(Bucket(key: "api:\(api.id)", limit: limit)) }
        // The smaller of the plan's and the API's, else the gateway's default.
        switch (planBytes, api.limits.maxMessageBytes) {
        case let (plan?, api?): policy.maxMessageBytes = min(plan, api)
        case let (bytes?, nil), let (nil, bytes?): policy.maxMessageBytes = bytes
        case (nil, nil): break
        }
        let idle = api.limits.idleTimeoutSeconds ?? settings.idleTimeout
        policy.idleTimeout = idle > 0 ? .seconds(Int64(idle)) : nil
        let lifetime = api.limits.maxLifetimeSeconds ?? settings.maxLifetime
        policy.maxLifetime = lifetime > 0 ? .seconds(Int64(lifetime)) : nil
        return policy
    }
}
