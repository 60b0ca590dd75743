import Hummingbird
import PorticoCore

/// `/throttling-policies/streaming/subscription` under the publisher API: the business plans a
/// provider can give an API.
struct PublisherPlansController {
    let plans: BusinessPlanStore

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .get("streaming/subscription", use: list)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> CountedList<PublisherPlan> {
        _ = try context.requireAny([.creator, .publisher], to: "list business plans")
        return CountedList(try await plans.list().map(PublisherPlan.init))
    }
}
