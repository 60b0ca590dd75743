import Foundation
import Hummingbird
import PorticoCore

/// The connection management listener (`GATEWAY_MANAGEMENT_ADDRESS`:`GATEWAY_MANAGEMENT_PORT`,
/// default 127.0.0.1:9097): `ConnectionManagementController` behind the JSON errors and the
/// control-character check every Portico REST surface has. Its own listener, not the clients':
/// only the APIs' backends call it, so it is bound where only they reach it.
enum ManagementServer {
    static func build(gateway: Gateway) -> some ApplicationProtocol {
        let controller = ConnectionManagementController(gateway: gateway, keys: ConnectionKeyCheck(hasher: gateway.settings.core.makeSecretHasher()))
        let router = Router(context: PorticoRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: TextInputMiddleware())
        router.addRoutes(OpenAPIController(document: document).endpoints)
        router.addRoutes(controller.endpoints)
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(gateway.settings.managementAddress, port: gateway.settings.managementPort),
                serverName: "portico-gateway-management"
            ),
            logger: gateway.logger
        )
    }

    /// The management API's OpenAPI 3.1 document (`Sources/gateway/openapi.json`), at `/openapi.json`.
    static let document: ByteBuffer? = Bundle.module.url(forResource: "openapi", withExtension: "json")
        .flatMap { try? Data(contentsOf: $0) }
        .map { ByteBuffer(bytes: $0) }
}
