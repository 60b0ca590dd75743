/// What a store refuses, in the terms of the data: which record is missing, what a change collides
/// with, which revision is current, which field names something that does not exist, which lifecycle
/// rule stands in the way. Stores throw it and never speak HTTP; `ErrorMiddleware` answers it with
/// the JSON error (`APIError(_: StoreError)` holds the wording).
package enum StoreError: Error, Equatable, Sendable {
    /// No record with this id, or none the caller may see.
    case notFound(Record, id: String)
    /// The change collides with what is stored.
    case conflict(Conflict)
    /// `If-Match` named a revision of an API that is no longer its current one.
    case stale(ifMatch: String, current: String)
    /// A field names something the data does not hold (a plan), or breaks a rule of the data.
    case invalidField(FieldError)
    /// The API's lifecycle state does not allow the change.
    case lifecycle(LifecycleRefusal)

    /// The kinds of record a store keeps.
    package enum Record: String, Sendable {
        case api = "API"
        case application
        case subscription
        case businessPlan = "business plan"
        case connectionKey = "connection key"
        case personalAccessToken = "personal access token"
    }

    /// What a change collides with.
    package enum Conflict: Equatable, Sendable {
        case applicationName(String)
        case keysExist(KeyType)
        case alreadySubscribed(api: String, version: String)
        case username(String)
        case planName(String)
        case planInUse(plan: String, by: [String])
        case apiHasSubscriptions(api: String, version: String, count: Int)
        /// Another API (`name`) is served at this context and version.
        case contextAndVersionTaken(context: String, version: String, by: String)
        case nameAndVersionTaken(name: String, version: String)
        /// The other versions of the API are served at `context`.
        case versionsElsewhere(name: String, context: String)
        /// The context overlaps `other`, the context of API `name`.
        case contextCollides(context: String, other: String, name: String)
    }
}

/// Why an API's lifecycle state refuses a change.
package enum LifecycleRefusal: Equatable, Sendable {
    /// `action` does not lead anywhere from `state`.
    case actionNotAllowed(LifecycleAction, from: LifecycleState)
    /// The API lacks what `target` needs (`WebSocketAPI.readinessProblem(for:)`).
    case notReady(for: LifecycleState, problem: String)
    /// Only PUBLISHED and PROTOTYPED APIs take new subscriptions.
    case closedToSubscriptions(api: String, version: String, state: LifecycleState)
}
