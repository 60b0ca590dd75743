import Foundation
import Hummingbird
import PorticoCore

/// `/subscriptions` on the publisher: who subscribes to an API, and blocking them.
struct SubscriptionsController {
    let subscriptions: SubscriptionStore
    let apis: APIStore

    /// WSO2 publisher v4 `Subscription`.
    struct Representation: ResponseEncodable, Sendable {
        struct ApplicationInfo: Encodable, Sendable {
            let applicationId: String
            let name: String
            let subscriber: String
        }
        let subscriptionId: String
        let applicationInfo: ApplicationInfo
        let throttlingPolicy: String
        let subscriptionStatus: String
        let createdTime: Date

        init(_ subscription: Subscription) {
            subscriptionId = subscription.id
            applicationInfo = .init(
                applicationId: subscription.applicationID,
                name: subscription.applicationName,
                subscriber: subscription.applicationOwner
            )
            throttlingPolicy = subscription.plan
            subscriptionStatus = subscription.status.rawValue
            createdTime = subscription.createdAt
        }
    }

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get(use: list)
            .post("block-subscription", use: block)
            .post("unblock-subscription", use: unblock)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> CountedList<Representation> {
        _ = try context.requireAny([.creator, .publisher], to: "list subscriptions")
        guard let apiID = request.queryParameters["apiId"] else {
            throw APIError.invalidParameter("apiId", "The parameter is required")
        }
        _ = try await APIsController.find(apiID, in: apis)
        return CountedList(try await subscriptions.list(apiID: apiID).map(Representation.init))
    }

    @Sendable func block(_ request: Request, context: Context) async throws -> Representation {
        _ = try context.require(.publisher, to: "block subscriptions")
        let query = request.queryParameters
        let id = try Self.subscriptionID(query)
        guard let raw = query["blockState"] else { throw APIError.invalidParameter("blockState", "The parameter is required") }
        guard let state = Subscription.Status(rawValue: raw), state != .unblocked else {
            throw APIError.invalidParameter("blockState", "'\(raw)' is not BLOCKED or PROD_ONLY_BLOCKED")
        }
        return Representation(try await subscriptions.setStatus(id: id, state))
    }

    @Sendable func unblock(_ request: Request, context: Context) async throws -> Representation {
        _ = try context.require(.publisher, to: "unblock subscriptions")
        let id = try Self.subscriptionID(request.queryParameters)
        return Representation(try await subscriptions.setStatus(id: id, .unblocked))
    }

    static func subscriptionID(_ query: [String: String]) throws -> String {
        guard let id = query["subscriptionId"] else { throw APIError.invalidParameter("subscriptionId", "The parameter is required") }
        return id
    }
}
