import Foundation
import Hummingbird

/// Serves a service's OpenAPI document, read once from its resource bundle.
public struct OpenAPIController: Sendable {
    public let document: ByteBuffer?

    public init(document: ByteBuffer?) {
        self.document = document
    }

    public func addRoutes(to group: RouterGroup<PorticoRequestContext>) {
        group.get("openapi.json") { _, _ in
            guard let document else {
                throw APIError(.internalServerError, "Internal Server Error", "The OpenAPI document is missing from this build")
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
    }
}
