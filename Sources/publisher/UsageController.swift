import Foundation
import Hummingbird
import PorticoCore

/// `/apis/{apiId}/usage`: what an API's traffic was.
struct UsageController {
    let apis: APIStore
    let usage: UsageStore

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get("{apiId}/usage", use: usageOverTime)
    }

    @Sendable func usageOverTime(_ request: Request, context: Context) async throws -> UsageReport {
        _ = try context.requireAny([.creator, .publisher], to: "read API usage")
        let api = try await APIsController.find(context.parameters.require("apiId"), in: apis)
        let query = try UsageQuery(query: request.queryParameters)
        return try await UsageReport.read(.api(api.id), query: query, from: usage)
    }
}
