import Foundation
import Hummingbird
import PorticoCore

/// `/apis/{apiId}/usage` and `/apis/{apiId}/connections`: what an API's traffic was, and who is
/// connected to it now on every gateway.
struct UsageController {
    let apis: APIStore
    let usage: UsageStore
    let cluster: ClusterStateStore

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get("{apiId}/usage", use: usageOverTime)
            .get("{apiId}/connections", use: liveConnections)
    }

    @Sendable func usageOverTime(_ request: Request, context: Context) async throws -> UsageReport {
        _ = try context.requireAny([.creator, .publisher], to: "read API usage")
        let api = try await APIsController.find(context.parameters.require("apiId"), in: apis)
        let query = try UsageQuery(query: request.queryParameters)
        return try await UsageReport.read(.api(api.id), query: query, from: usage)
    }

    @Sendable func liveConnections(_ request: Request, context: Context) async throws -> CountedList<LiveConnection> {
        _ = try context.requireAny([.creator, .publisher], to: "list an API's connections")
        let api = try await APIsController.find(context.parameters.require("apiId"), in: apis)
        let live = try await cluster.liveConnections(apiID: api.id, freshness: ClusterStateStore.nodeFreshness)
        return CountedList(live)
    }
}
