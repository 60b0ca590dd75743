import Foundation
import NIOCore

/// The publisher's OpenAPI 3.1 document (`Sources/publisher/openapi.json`).
enum PublisherOpenAPI {
    static let document: ByteBuffer? = Bundle.module.url(forResource: "openapi", withExtension: "json")
        .flatMap { try? Data(contentsOf: $0) }
        .map { ByteBuffer(bytes: $0) }
}
