import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import Testing

@testable import publisher

@Suite struct OpenAPIDocumentTests {
    @Test func everyRouteIsDocumented() throws {
        let database = Database(url: try DatabaseURL(parsing: "postgres://u@127.0.0.1/unused"), logger: TestDatabase.logger)
        let router = try buildRouter(database: database, settings: try CoreSettings(source: SettingsSource(values: [:])))
        let (undocumented, unserved) = try undocumentedAndUnserved(
            routes: router.routes.filter { !$0.path.description.hasPrefix("/publisher") }.map { "\($0.method.rawValue) \($0.path.description)" },
            document: PublisherOpenAPI.document
        )
        #expect(undocumented.isEmpty, "served but not documented: \(undocumented)")
        #expect(unserved.isEmpty, "documented but not served: \(unserved)")
    }

    @Test func theDocumentIsServed() async throws {
        try await PublisherHarness.run { client in
            let reply = try await client.signedIn(nil).send(.get, "openapi.json")
            #expect(reply.status == .ok)
            #expect(reply.json["info"]["title"].string != nil)
        }
    }

    @Test func healthEndpointsAnswer() async throws {
        try await PublisherHarness.run { client in
            #expect(try await client.signedIn(nil).send(.get, "/health/live").json["status"].string == "UP")
            let ready = try await client.signedIn(nil).send(.get, "/health/ready")
            #expect(ready.status == .ok)
            #expect(ready.json["database"].string == "UP")
        }
    }
}
