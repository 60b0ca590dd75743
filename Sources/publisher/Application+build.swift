import Foundation
import Hummingbird
import Logging
import PorticoCore

typealias Context = PorticoRequestContext

/// Builds the publisher: one function that `serve` and the tests both call.
func buildApplication(settings: PublisherSettings, logger: Logger = Logger(label: "portico.publisher")) async throws -> some ApplicationProtocol {
    let database = Database(url: settings.core.database, poolSize: settings.core.databasePoolSize, logger: logger)
    return try RESTService.application(
        name: "publisher", router: buildRouter(database: database, settings: settings.core), database: database,
        settings: settings.core, port: settings.port, migrationsDirectory: settings.migrationsDirectory, logger: logger)
}

/// Every route of the publisher, grouped by resource. The OpenAPI document lists exactly these.
func buildRouter(database: Database, settings: CoreSettings) -> Router<Context> {
    let router = Router(context: Context.self)
    RequestObservability.add(to: router)
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: TextInputMiddleware())
    router.add(middleware: RequestPolicyMiddleware(maxBodyBytes: settings.maxBodyBytes))
    let users = UserStore(database: database, hasher: settings.makeSecretHasher())
    let authenticator = Authenticator(users: users, settings: settings)
    let apis = APIStore(database: database)
    let plans = BusinessPlanStore(database: database)

    HealthController(database: database).addRoutes(to: router.group("health"))
    OpenAPIController(document: PublisherOpenAPI.document).addRoutes(to: router.group("api/am/publisher/v4"))

    let publisher = router.group("api/am/publisher/v4").add(middleware: BasicAuthMiddleware(authenticator))
    APIsController(apis: apis).addRoutes(to: publisher.group("apis"))
    LifecycleController(apis: apis).addRoutes(to: publisher.group("apis"))
    UsageController(apis: apis, usage: UsageStore(database: database), cluster: ClusterStateStore(database: database))
        .addRoutes(to: publisher.group("apis"))
    PublisherPlansController(plans: plans).addRoutes(to: publisher.group("throttling-policies"))
    SubscriptionsController(subscriptions: SubscriptionStore(database: database), apis: apis).addRoutes(to: publisher.group("subscriptions"))

    let admin = router.group("api/am/admin/v4").add(middleware: BasicAuthMiddleware(authenticator))
    UsersController(users: users).addRoutes(to: admin.group("users"))
    AdminPlansController(plans: plans).addRoutes(to: admin.group("throttling-policies/subscription"))
    return router
}
