import Foundation
import Hummingbird
import Logging
import PorticoCore

typealias Context = PorticoRequestContext

/// Builds the devportal: one function that `serve` and the tests both call.
func buildApplication(settings: DevportalSettings, logger: Logger = Logger(label: "portico.devportal")) async throws -> some ApplicationProtocol {
    let database = Database(url: settings.core.database, poolSize: settings.core.databasePoolSize, logger: logger)
    return try RESTService.application(
        name: "devportal",
        router: try buildRouter(database: database, settings: settings),
        database: database,
        settings: settings.core,
        port: settings.port,
        migrationsDirectory: settings.migrationsDirectory,
        logger: logger
    ) {
        try await signingKeyStore(database, settings).ensureActiveKey()
        try await TokenStore(database: database).pruneExpired()
    }
}

/// Every route of the devportal: the REST API and OAuth2 endpoints (the OpenAPI document lists
/// exactly these) and the portal's pages under `/devportal`, which call that same REST API.
func buildRouter(database: Database, settings: DevportalSettings) throws -> Router<Context> {
    let users = UserStore(database: database, hasher: settings.core.makeSecretHasher())
    let authenticator = Authenticator(users: users, settings: settings.core)
    let router = Router(context: Context.self)
    RequestObservability.add(to: router)
    addRESTRoutes(to: router, database: database, settings: settings, users: users, authenticator: authenticator)

    // The portal's one path to the data: the same REST routes, called in process.
    let rest = Router(context: Context.self)
    addRESTRoutes(to: rest, database: database, settings: settings, users: users, authenticator: authenticator)
    let portal = Portal(
        kind: .devportal,
        database: database,
        authenticator: authenticator,
        pages: try PageRenderer(
            portal: .devportal,
            directory: Bundle.module.resourceURL!.appendingPathComponent("Templates"),
            constants: ["signupEnabled": settings.signupEnabled]
        ),
        rest: RESTBridge(router: rest),
        settings: settings.core
    )
    let pages = router.group("devportal").add(middleware: PortalMiddleware(portal))
    pages.addRoutes(portal.sessionEndpoints)
    pages.addRoutes(
        DeveloperPortal(
            portal: portal,
            probe: HandshakeProbe(gateway: settings.core.gateway),
            signupEnabled: settings.signupEnabled
        ).endpoints
    )
    return router
}

func addRESTRoutes(to router: Router<Context>, database: Database, settings: DevportalSettings, users: UserStore, authenticator: Authenticator) {
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: TextInputMiddleware())
    router.add(middleware: RequestPolicyMiddleware(maxBodyBytes: settings.core.maxBodyBytes))
    let hasher = users.hasher
    let applications = ApplicationStore(database: database)
    let keys = ClientKeyStore(database: database, hasher: hasher)
    let tokens = TokenStore(database: database)
    let issuer = TokenIssuer(
        signingKeys: signingKeyStore(database, settings),
        tokens: tokens,
        issuer: settings.publicURL,
        audience: settings.tokenAudience
    )

    router.addRoutes(HealthController(database: database).endpoints, atPath: "health")
    router.addRoutes(OAuth2Controller(keys: keys, applications: applications, tokens: tokens, issuer: issuer, settings: settings).endpoints)

    let base = RouterPath("api/am/devportal/v3")
    router.addRoutes(OpenAPIController(document: DevportalOpenAPI.document).endpoints, atPath: base)
    let open = router.group(base).add(middleware: BasicAuthMiddleware(authenticator, required: false))
    open.addRoutes(SignupController(users: users, enabled: settings.signupEnabled).endpoints, atPath: "signup")
    open.addRoutes(CatalogController(database: database, settings: settings).endpoints, atPath: "apis")

    let signedIn = router.group(base).add(middleware: BasicAuthMiddleware(authenticator))
    signedIn.addRoutes(PersonalAccessTokensController(authenticator: authenticator).endpoints, atPath: "me/personal-access-tokens")
    signedIn.addRoutes(ApplicationsController(applications: applications, usage: UsageStore(database: database)).endpoints)
    signedIn.addRoutes(KeysController(applications: applications, keys: keys, issuer: issuer, settings: settings).endpoints, atPath: "applications")
    signedIn.addRoutes(SubscriptionsController(subscriptions: SubscriptionStore(database: database)).endpoints, atPath: "subscriptions")
}

/// The devportal's OpenAPI 3.1 document (`Sources/devportal/openapi.json`).
enum DevportalOpenAPI {
    static let document: ByteBuffer? = Bundle.module.url(forResource: "openapi", withExtension: "json")
        .flatMap { try? Data(contentsOf: $0) }
        .map { ByteBuffer(bytes: $0) }
}

extension Context {
    /// The signed-in developer: devportal routes need the `subscriber` role (or admin).
    func developer(to action: String) throws -> User {
        try require(.subscriber, to: action)
    }
}
