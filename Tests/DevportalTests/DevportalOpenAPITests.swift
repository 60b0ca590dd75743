import Foundation
import PorticoCore
import PorticoTestSupport
import Testing

@testable import devportal

@Suite struct DevportalOpenAPITests {
    @Test func everyRouteIsDocumented() throws {
        let url = try DatabaseURL(parsing: "postgres://u@127.0.0.1/unused")
        let router = try buildRouter(database: Database(url: url, logger: TestDatabase.logger), settings: try DevportalHarness.settings(url))
        let (undocumented, unserved) = try undocumentedAndUnserved(
            routes: router.routes.filter { !$0.path.description.hasPrefix("/devportal") }.map { "\($0.method.rawValue) \($0.path.description)" },
            document: DevportalOpenAPI.document
        )
        #expect(undocumented.isEmpty, "served but not documented: \(undocumented)")
        #expect(unserved.isEmpty, "documented but not served: \(unserved)")
    }
}
