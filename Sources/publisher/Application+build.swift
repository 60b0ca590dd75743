import Foundation
import Hummingbird
import Logging
import PorticoCore

typealias Context = PorticoRequestContext

/// Builds the publisher: one function that `serve` and the tests both call.
func buildApplication(settings: PublisherSettings, logger: Logger = Logger(label: "portico.publisher")) async throws -> some ApplicationProtocol {
    let database = Database(url: settings.core.database, poolSize: settings.core.databasePoolSize, logger: logger)
    return try RESTService.application(
        name: "publisher",
        router: try buildRouter(database: database, settings: settings.core),
        database: database,
        settings: settings.core,
        port: settings.port,
        migrationsDirectory: settings.migrationsDirectory,
        logger: logger
    )
}

/// Every route of the publisher: the REST API (grouped by resource; the OpenAPI document lists
/// exactly these) and the console's pages under `/publisher`, which call that same REST API.
func buildRouter(database: Database, settings: CoreSettings) throws -> Router<Context> {
    let users = UserStore(database: database, hasher: settings.makeSecretHasher())
    let authenticator = Authenticator(users: users, settings: settings)
    let router = Router(context: Context.self)
    RequestObservability.add(to: router)
    addRESTRoutes(to: router, database: database, settings: settings, users: users, authenticator: authenticator)

    // The console's one path to the data: the same REST routes, called in process.
    let rest = Router(context: Context.self)
    addRESTRoutes(to: rest, database: database, settings: settings, users: users, authenticator: authenticator)
    let templates = Bundle.module.resourceURL!.appendingPathComponent("Templates")
    let portal = Portal(
        kind: .publisher,
        database: database,
        authenticator: authenticator,
        pages: try PageRenderer(portal: .publisher, directory: templates),
        rest: RESTBridge(router: rest),
        settings: settings
    )
    let pages = router.group("publisher").add(middleware: PortalMiddleware(portal))
    pages.addRoutes(portal.sessionEndpoints)
    pages.addRoutes(PublisherConsole(portal: portal).endpoints)
    return router
}

func addRESTRoutes(to router: Router<Context>, database: Database, settings: CoreSettings, users: UserStore, authenticator: Authenticator) {
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: TextInputMiddleware())
    router.add(middleware: RequestPolicyMiddleware(maxBodyBytes: settings.maxBodyBytes))
    let apis = APIStore(database: database)
    let plans = BusinessPlanStore(database: database)

    router.addRoutes(HealthController(database: database).endpoints, atPath: "health")
    router.addRoutes(OpenAPIController(document: PublisherOpenAPI.document).endpoints, atPath: "api/am/publisher/v4")

    let publisher = router.group("api/am/publisher/v4").add(middleware: BasicAuthMiddleware(authenticator))
    publisher.addRoutes(APIsController(apis: apis).endpoints, atPath: "apis")
    publisher.addRoutes(LifecycleController(apis: apis).endpoints, atPath: "apis")
    publisher.addRoutes(UsageController(apis: apis, usage: UsageStore(database: database)).endpoints, atPath: "apis")
    publisher.addRoutes(
        ConnectionsController(apis: apis, cluster: ClusterStateStore(database: database), calls: ConnectionCallStore(database: database)).endpoints,
        atPath: "apis"
    )
    publisher.addRoutes(
        ConnectionKeysController(apis: apis, keys: ConnectionKeyStore(database: database, hasher: users.hasher)).endpoints,
        atPath: "apis"
    )
    publisher.addRoutes(PublisherPlansController(plans: plans).endpoints, atPath: "throttling-policies")
    publisher.addRoutes(SubscriptionsController(subscriptions: SubscriptionStore(database: database), apis: apis).endpoints, atPath: "subscriptions")

    publisher.addRoutes(PersonalAccessTokensController(authenticator: authenticator).endpoints, atPath: "me/personal-access-tokens")

    let admin = router.group("api/am/admin/v4").add(middleware: BasicAuthMiddleware(authenticator))
    admin.addRoutes(UsersController(users: users).endpoints, atPath: "users")
    admin.addRoutes(AdminPlansController(plans: plans).endpoints, atPath: "throttling-policies/subscription")
}
