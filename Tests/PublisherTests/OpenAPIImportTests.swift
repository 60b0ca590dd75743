import Foundation
import PorticoCore
import Testing

@testable import publisher

/// What a Yandex API Gateway specification becomes, and what is refused with its name.
@Suite struct OpenAPIImportTests {
    static let spec = """
        openapi: 3.0.0
        info:
          title: Test API
          version: 1.0.0
        paths:
          /connections:
            x-yc-apigateway-websocket-message:
              x-yc-apigateway-integration:
                type: http
                url: http://backend:8080/message
                method: put
                timeouts:
                  read: 2
                  connect: 0.5
                headers:
                  X-Static: value
        """

    @Test func anHTTPIntegrationBecomesAnHTTPRoute() throws {
        let imported = try OpenAPIImport.parse(Self.spec)
        let route = try #require(imported.routes.route("$default"))
        #expect(route.twoWay)
        #expect(route.integration.method == "PUT")
        #expect(route.integration.timeoutMillis == 2500)
        #expect(route.integration.requestParameters == ["integration.request.header.X-Static": "'value'"])
    }

    @Test(
        arguments: [
            ("read: 2", "read: .inf", nil),  // clamped, never a crash
            ("read: 2", "read: 1e300", nil),
            ("type: http", "type: cloud_functions", "cloud_functions"),
            ("openapi: 3.0.0", "openapi: 3.0.0\nx-yc-apigateway:\n  service_account_id: x", "x-yc-apigateway"),
            ("openapi: 3.0.0", "openapi: 3.0.0\nsecurity:\n  - bearer: []", "security"),
            ("      x-yc-apigateway-integration:", "      security: []\n      x-yc-apigateway-integration:", "security"),
            ("url: http://backend:8080/message", "url: &u http://backend:8080/message", "anchors"),
            ("  /connections:", "  /other:\n    get:\n      responses: {}\n  /connections:", "/other"),
        ] as [(String, String, String?)]
    )
    func unsupportedPartsAreNamed(original: String, replacement: String, named: String?) throws {
        let text = Self.spec.replacingOccurrences(of: original, with: replacement)
        if let named {
            do {
                _ = try OpenAPIImport.parse(text)
                Issue.record("\(named) was accepted")
            } catch let error as APIError {
                #expect("\(error.message) \(error.detail)".contains(named), "\(error)")
            }
        } else {
            #expect(try OpenAPIImport.parse(text).routes.route("$default")?.integration.timeout == APIRoutes.maxTimeoutMillis)
        }
    }
}
