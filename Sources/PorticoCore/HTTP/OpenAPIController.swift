import Foundation
import Hummingbird

/// Serves a service's OpenAPI document, read once from its resource bundle.
package struct OpenAPIController: Sendable {
    package let document: ByteBuffer?

    package init(document: ByteBuffer?) {
        self.document = document
    }

    package var endpoints: RouteCollection<PorticoRequestContext> {
        RouteCollection(context: PorticoRequestContext.self)
            .get("openapi.json", use: openAPI)
    }

    @Sendable func openAPI(_ request: Request, context: PorticoRequestContext) async throws -> Response {
        guard let document else {
            throw APIError(.internalServerError, "Internal Server Error", "The OpenAPI document is missing from this build")
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
    }
}
