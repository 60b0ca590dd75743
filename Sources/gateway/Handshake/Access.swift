import PorticoCore

/// Stage 4: may this caller use this API now, and which endpoint serves them. The same decision
/// runs again on every snapshot change for every live connection, so a change in access acts on
/// open connections too.
enum Access {
    /// The endpoint that serves this caller; nil for an API whose messages go to its routes.
    static func check(_ caller: Caller, _ api: GatewayCatalog.API, in table: RouteTable) throws(Refusal) -> String? {
        switch api.state {
        case .blocked:
            throw Refusal(status: .serviceUnavailable, code: "api_blocked", message: "The API is blocked by its provider")
        case .created, .retired:
            throw Refusal.notFound
        case .prototyped:
            break
        case .published, .deprecated:
            guard let subscription = table.subscription(application: caller.applicationID, api: api.id) else {
                throw .forbidden(
                    api.state == .deprecated ? "api_deprecated" : "not_subscribed",
                    api.state == .deprecated
                        ? "The API is deprecated and takes no new subscribers"
                        : "The application is not subscribed to this API"
                )
            }
            switch subscription.status {
            case .unblocked: break
            case .blocked: throw .forbidden("subscription_blocked", "The subscription is blocked")
            case .prodOnlyBlocked where caller.keyType == .production:
                throw .forbidden("subscription_blocked", "The subscription is blocked for production keys")
            case .prodOnlyBlocked: break
            }
        }
        if api.routes != nil { return nil }
        let endpoint = caller.keyType == .production ? api.productionEndpoint : api.sandboxEndpoint
        guard let endpoint else {
            throw .forbidden("no_endpoint", "The API has no \(caller.keyType.rawValue.lowercased()) endpoint for this token's keys")
        }
        return endpoint
    }
}
