import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import Testing
@testable import publisher

@Suite struct OpenAPIDocumentTests {
    static func document() throws -> [String: Any] {
        let data = try #require(PublisherOpenAPI.document).readableBytesView
        return try #require(try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any])
    }

    @Test func everyRouteIsDocumented() throws {
        let database = Database(url: try DatabaseURL(parsing: "postgres://u@127.0.0.1/unused"), logger: TestDatabase.logger)
        let router = buildRouter(database: database, settings: try CoreSettings(source: SettingsSource(values: [:])))
        let document = try Self.document()
        #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var documented = Set<String>()
        for (path, operations) in paths {
            for method in operations.keys where ["get", "put", "post", "delete", "patch"].contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        let served = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
    }

    @Test func theDocumentIsServed() async throws {
        try await PublisherHarness.run { client in
            let reply = try await client.signedIn(nil).send(.get, "openapi.json")
            #expect(reply.status == .ok)
            #expect((reply.json["info"] as? [String: Any])?["title"] as? String != nil)
        }
    }

    @Test func healthEndpointsAnswer() async throws {
        try await PublisherHarness.run { client in
            #expect(try await client.signedIn(nil).send(.get, "/health/live").json["status"] as? String == "UP")
            let ready = try await client.signedIn(nil).send(.get, "/health/ready")
            #expect(ready.status == .ok)
            #expect(ready.json["database"] as? String == "UP")
        }
    }
}
