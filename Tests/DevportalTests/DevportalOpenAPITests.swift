import Foundation
import PorticoCore
import PorticoTestSupport
import Testing
@testable import devportal

@Suite struct DevportalOpenAPITests {
    @Test func everyRouteIsDocumented() throws {
        let url = try DatabaseURL(parsing: "postgres://u@127.0.0.1/unused")
        let router = buildRouter(database: Database(url: url, logger: TestDatabase.logger), settings: try DevportalHarness.settings(url))
        let data = try #require(DevportalOpenAPI.document).readableBytesView
        let document = try #require(try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any])
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
}
