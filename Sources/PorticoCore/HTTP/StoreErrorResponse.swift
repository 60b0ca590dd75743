import Hummingbird

extension APIError {
    /// The JSON error a store's refusal answers with: 404, 409, 412 or 400, worded for the caller.
    package init(_ error: StoreError) {
        switch error {
        case .notFound(let record, let id):
            self = .notFound("No \(record.rawValue) with id '\(id)'")
        case .conflict(let conflict):
            self = .conflict(Self.describe(conflict))
        case .stale(let ifMatch, let current):
            self = .preconditionFailed(
                "The API changed since you read it (If-Match \(ifMatch), current ETag \(current)); GET it again and retry"
            )
        case .invalidField(let error):
            self = .invalidField(error.field, error.reason)
        case .lifecycle(.actionNotAllowed(let action, let state)):
            self = .badRequest(
                "'\(action.rawValue)' is not allowed from \(state.rawValue); allowed: \(state.allowedActions)",
                message: "Invalid lifecycle action"
            )
        case .lifecycle(.notReady(let target, let problem)):
            self = .badRequest(problem, message: "The API cannot be moved to \(target.rawValue)")
        case .lifecycle(.closedToSubscriptions(let api, let version, let state)):
            self = .badRequest(
                "API '\(api)' \(version) is \(state.rawValue); only PUBLISHED or PROTOTYPED APIs take new subscriptions",
                message: "API not open for subscription"
            )
        }
    }

    private static func describe(_ conflict: StoreError.Conflict) -> String {
        switch conflict {
        case .applicationName(let name):
            "You already have an application named '\(name)'"
        case .keysExist(let keyType):
            "The application has \(keyType.rawValue) keys already; regenerate their secret instead of generating new keys"
        case .alreadySubscribed(let api, let version):
            "The application is already subscribed to '\(api)' \(version)"
        case .username(let name):
            "A user named '\(name)' already exists"
        case .planName(let name):
            "A business plan named '\(name)' already exists"
        case .planInUse(let plan, let users):
            "Business plan '\(plan)' is in use by: \(users.joined(separator: ", "))"
        case .apiHasSubscriptions(let api, let version, let count):
            "'\(api)' \(version) has \(count) subscription(s); they must be removed before the API can be deleted"
        case .contextAndVersionTaken(let context, let version, let name):
            "An API with context '\(context)' and version '\(version)' already exists ('\(name)')"
        case .nameAndVersionTaken(let name, let version):
            "An API named '\(name)' with version '\(version)' already exists"
        case .versionsElsewhere(let name, let context):
            "The versions of '\(name)' are served at context '\(context)'; a new version must use it too"
        case .contextCollides(let context, let other, let name):
            "Context '\(context)' collides with context '\(other)' of API '\(name)'"
        }
    }
}
