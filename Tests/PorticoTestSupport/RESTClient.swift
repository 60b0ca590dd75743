import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// A JSON/form client of one Portico service under test, signed in as one user (or anonymous).
/// Paths without a leading `/` are relative to `base`.
package struct RESTClient: Sendable {
    package let client: any TestClientProtocol
    package let base: String
    package let username: String?
    package let password: String?

    package init(client: any TestClientProtocol, base: String, username: String? = nil, password: String? = nil) {
        self.client = client
        self.base = base
        self.username = username
        self.password = password
    }

    /// The same client signed in as someone else (nil: anonymous).
    package func signedIn(_ username: String?, _ password: String? = "password-1") -> RESTClient {
        RESTClient(client: client, base: base, username: username, password: password)
    }

    @discardableResult
    package func send(
        _ method: HTTPRequest.Method,
        _ path: String,
        json: String? = nil,
        form: String? = nil,
        headers: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = headers
        if let username, let password, headers[.authorization] == nil {
            headers[.authorization] = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        if form != nil, headers[.contentType] == nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let uri = path.hasPrefix("/") ? path : "\(base)/\(path)"
        let response = try await client.executeRequest(
            uri: uri,
            method: method,
            headers: headers,
            body: (json ?? form).map { ByteBuffer(string: $0) }
        )
        return Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
    }
}

/// A response, with the checks every test of a Portico error makes.
package struct Reply: Sendable {
    package let status: HTTPResponse.Status
    package let headers: HTTPFields
    package let body: Data

    package var text: String { String(decoding: body, as: UTF8.self) }
    package var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    package subscript(_ key: String) -> Any? { json[key] }
    package var id: String { json["id"] as? String ?? "" }

    /// A Portico REST error: JSON `{code, message, description}` with `status`, mentioning `words`.
    package func expectError(_ status: HTTPResponse.Status, mentioning words: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        #expect(headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        #expect(json["code"] as? Int == status.code, "\(text)", sourceLocation: sourceLocation)
        #expect(json["message"] is String, sourceLocation: sourceLocation)
        #expect(json["description"] is String, sourceLocation: sourceLocation)
        let all = "\(json["message"] ?? "") \(json["description"] ?? "")"
        for word in words {
            #expect(all.contains(word), "'\(word)' not in \(all)", sourceLocation: sourceLocation)
        }
    }

    /// An RFC 6749 §5.2 error: `{error, error_description}` and no caching.
    package func expectOAuthError(_ status: HTTPResponse.Status, _ error: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        #expect(json["error"] as? String == error, "\(text)", sourceLocation: sourceLocation)
        #expect(json["error_description"] is String, sourceLocation: sourceLocation)
        #expect(headers[.cacheControl] == "no-store", sourceLocation: sourceLocation)
    }
}

/// Compares a service's routes with its OpenAPI document: what is served but not documented, and
/// what is documented but not served.
package func undocumentedAndUnserved(routes: [String], document: ByteBuffer?) throws -> (undocumented: [String], unserved: [String]) {
    let data = try #require(document).readableBytesView
    let object = try #require(try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any])
    #expect((object["openapi"] as? String)?.hasPrefix("3.1") == true)
    let paths = try #require(object["paths"] as? [String: [String: Any]])
    var documented = Set<String>()
    for (path, operations) in paths {
        for method in operations.keys where ["get", "put", "post", "delete", "patch"].contains(method) {
            documented.insert("\(method.uppercased()) \(path)")
        }
    }
    let served = Set(routes)
    return (served.subtracting(documented).sorted(), documented.subtracting(served).sorted())
}
