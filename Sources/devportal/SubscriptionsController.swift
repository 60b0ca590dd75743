import Foundation
import Hummingbird
import PorticoCore

/// `/subscriptions`: a developer subscribes their applications to APIs under a business plan.
struct SubscriptionsController {
    let subscriptions: SubscriptionStore

    static let basePath = "/api/am/devportal/v3/subscriptions"

    struct Body: Decodable {
        var applicationId: String?
        var apiId: String?
        var throttlingPolicy: String?
    }

    /// WSO2 devportal v3 `Subscription`.
    struct Representation: ResponseEncodable, Sendable {
        struct APIInfo: Encodable, Sendable { let id, name, context, version: String }
        let subscriptionId, applicationId, apiId, throttlingPolicy, status: String
        let apiInfo: APIInfo
        let createdTime: Date

        init(_ subscription: Subscription) {
            subscriptionId = subscription.id
            applicationId = subscription.applicationID
            apiId = subscription.apiID
            throttlingPolicy = subscription.plan
            status = subscription.status.rawValue
            createdTime = subscription.createdAt
            apiInfo = APIInfo(
                id: subscription.apiID,
                name: subscription.apiName,
                context: subscription.apiContext,
                version: subscription.apiVersion
            )
        }
    }

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get(use: list)
            .post(use: subscribe)
            .get("{subscriptionId}", use: get)
            .delete("{subscriptionId}", use: unsubscribe)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> CountedList<Representation> {
        let user = try context.developer(to: "list subscriptions")
        let query = request.queryParameters
        guard query["applicationId"] != nil || query["apiId"] != nil else {
            throw APIError.invalidParameter("applicationId", "Give applicationId or apiId")
        }
        let found = try await subscriptions.list(owner: user, applicationID: query["applicationId"], apiID: query["apiId"])
        return CountedList(found.map(Representation.init))
    }

    @Sendable func subscribe(_ request: Request, context: Context) async throws -> EditedResponse<Representation> {
        let user = try context.developer(to: "subscribe")
        let body = try await request.decodeJSON(Body.self, context: context)
        guard let applicationID = body.applicationId else { throw APIError.invalidField("applicationId", "The field is required") }
        guard let apiID = body.apiId else { throw APIError.invalidField("apiId", "The field is required") }
        guard let plan = body.throttlingPolicy else { throw APIError.invalidField("throttlingPolicy", "The field is required") }
        let subscription = try await subscriptions.create(applicationID: applicationID, apiID: apiID, plan: plan, owner: user)
        return EditedResponse(status: .created, headers: [.location: "\(Self.basePath)/\(subscription.id)"], response: Representation(subscription))
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> Representation {
        let user = try context.developer(to: "read subscriptions")
        let id = try context.parameters.require("subscriptionId")
        guard let subscription = try await subscriptions.get(id: id, owner: user) else {
            throw APIError.notFound("No subscription with id '\(id)'")
        }
        return Representation(subscription)
    }

    @Sendable func unsubscribe(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        let user = try context.developer(to: "unsubscribe")
        try await subscriptions.delete(id: try context.parameters.require("subscriptionId"), owner: user)
        return .noContent
    }
}
