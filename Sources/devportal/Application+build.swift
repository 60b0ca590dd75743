import Foundation
import Hummingbird
import Logging
import PorticoCore

typealias Context = PorticoRequestContext

/// Builds the devportal: one function that `serve` and the tests both call.
func buildApplication(settings: DevportalSettings, logger: Logger = Logger(label: "portico.devportal")) async throws -> some ApplicationProtocol {
    let database = Database(url: settings.core.database, poolSize: settings.core.databasePoolSize, logger: logger)
    return try RESTService.application(
        name: "devportal", router: buildRouter(database: database, settings: settings), database: database,
        settings: settings.core, port: settings.port, migrationsDirectory: settings.migrationsDirectory, logger: logger
    ) {
        try await signingKeyStore(database, settings).ensureActiveKey()
        try await TokenStore(database: database).pruneExpired()
    }
}

/// Every route of the devportal. The OpenAPI document lists exactly these.
func buildRouter(database: Database, settings: DevportalSettings) -> Router<Context> {
    let router = Router(context: Context.self)
    RequestObservability.add(to: router)
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: TextInputMiddleware())
    router.add(middleware: RequestPolicyMiddleware(maxBodyBytes: settings.core.maxBodyBytes))
    let hasher = settings.core.makeSecretHasher()
    let users = UserStore(database: database, hasher: hasher)
    let authenticator = Authenticator(users: users, settings: settings.core)
    let applications = ApplicationStore(database: database)
    let keys = ClientKeyStore(database: database, hasher: hasher)
    let tokens = TokenStore(database: database)
    let issuer = TokenIssuer(
        signingKeys: signingKeyStore(database, settings), tokens: tokens, issuer: settings.publicURL, audience: settings.tokenAudience)

    HealthController(database: database).addRoutes(to: router.group("health"))
    OAuth2Controller(keys: keys, applications: applications, tokens: tokens, issuer: issuer, settings: settings)
        .addRoutes(to: router)

    let base = "api/am/devportal/v3"
    OpenAPIController(document: DevportalOpenAPI.document).addRoutes(to: router.group(RouterPath(base)))
    let open = router.group(RouterPath(base)).add(middleware: BasicAuthMiddleware(authenticator, required: false))
    SignupController(users: users, enabled: settings.signupEnabled).addRoutes(to: open.group("signup"))
    CatalogController(database: database, settings: settings).addRoutes(to: open.group("apis"))

    let signedIn = router.group(RouterPath(base)).add(middleware: BasicAuthMiddleware(authenticator))
    ApplicationsController(applications: applications, usage: UsageStore(database: database)).addRoutes(to: signedIn)
    KeysController(applications: applications, keys: keys, issuer: issuer, settings: settings)
        .addRoutes(to: signedIn.group("applications"))
    SubscriptionsController(subscriptions: SubscriptionStore(database: database))
        .addRoutes(to: signedIn.group("subscriptions"))
    return router
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
