import Foundation
import Hummingbird
import PorticoCore

/// Serves the publisher's OpenAPI 3.1 document (`Sources/publisher/openapi.json`).
struct OpenAPIController {
    static let document: ByteBuffer? = Bundle.module.url(forResource: "openapi", withExtension: "json")
        .flatMap { try? Data(contentsOf: $0) }
        .map { ByteBuffer(bytes: $0) }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("openapi.json") { _, _ in
            guard let document = Self.document else {
                throw APIError(.internalServerError, "Internal Server Error", "The OpenAPI document is missing from this build")
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
    }
}
