import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Where a `RESTClient`'s requests go: a service's router in this process (`HummingbirdTesting`'s
/// client) or a running service over real sockets (`SocketTransport`). The tests speak one
/// vocabulary (`ReferenceFlow.swift`) over both.
package protocol RESTTransport: Sendable {
    /// Sends one request; `path` starts with `/` (and may carry a query).
    func send(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields, body: ByteBuffer?) async throws -> Reply
}

/// The router of an application under `app.test(.router)`.
package struct RouterTransport: RESTTransport {
    package let client: any TestClientProtocol

    package init(_ client: any TestClientProtocol) { self.client = client }

    package func send(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields, body: ByteBuffer?) async throws -> Reply {
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: body)
        return Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
    }
}

/// A running service at `origin` (`http://127.0.0.1:PORT`), over real sockets (`HTTP`).
package struct SocketTransport: RESTTransport {
    package let origin: String

    package init(_ origin: String) { self.origin = origin }

    package func send(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields, body: ByteBuffer?) async throws -> Reply {
        try await HTTP.reply(method, origin + path, headers: headers, body: body)
    }
}

/// A JSON/form client of one Portico service, signed in as one user (or anonymous). Paths without
/// a leading `/` are relative to `base`.
package struct RESTClient: Sendable {
    package let transport: any RESTTransport
    package let base: String
    package let username: String?
    package let password: String?

    package init(_ transport: any RESTTransport, base: String, username: String? = nil, password: String? = nil) {
        self.transport = transport
        self.base = base
        self.username = username
        self.password = password
    }

    /// The same client signed in as someone else (nil: anonymous).
    package func signedIn(_ username: String?, _ password: String? = "password-1") -> RESTClient {
        RESTClient(transport, base: base, username: username, password: password)
    }

    /// The same service and user under another base path.
    package func at(_ base: String) -> RESTClient {
        RESTClient(transport, base: base, username: username, password: password)
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
        let path = path.hasPrefix("/") ? path : "\(base)/\(path)"
        return try await transport.send(method, path, headers: headers, body: (json ?? form).map { ByteBuffer(string: $0) })
    }
}

/// A response, with the checks every test of a Portico error makes.
package struct Reply: Sendable {
    package let status: HTTPResponse.Status
    package let headers: HTTPFields
    package let body: Data

    package init(status: HTTPResponse.Status, headers: HTTPFields, body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    package var text: String { String(decoding: body, as: UTF8.self) }
    package var json: JSON { JSON(parsing: body) }
    package subscript(_ key: String) -> JSON { json[key] }
    package var id: String { json["id"].string ?? "" }

    /// The body decoded as `type`.
    package func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: body)
    }

    /// A Portico REST error: JSON `{code, message, description}` with `status`, mentioning `words`.
    package func expectError(_ status: HTTPResponse.Status, mentioning words: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        #expect(headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        #expect(json["code"].int == status.code, "\(text)", sourceLocation: sourceLocation)
        #expect(json["message"].string != nil, sourceLocation: sourceLocation)
        #expect(json["description"].string != nil, sourceLocation: sourceLocation)
        let all = "\(json["message"].string ?? "") \(json["description"].string ?? "")"
        for word in words {
            #expect(all.contains(word), "'\(word)' not in \(all)", sourceLocation: sourceLocation)
        }
    }

    /// An RFC 6749 §5.2 error: `{error, error_description}` and no caching.
    package func expectOAuthError(_ status: HTTPResponse.Status, _ error: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        #expect(json["error"].string == error, "\(text)", sourceLocation: sourceLocation)
        #expect(json["error_description"].string != nil, sourceLocation: sourceLocation)
        #expect(headers[.cacheControl] == "no-store", sourceLocation: sourceLocation)
    }
}

/// Compares a service's routes with its OpenAPI document: what is served but not documented, and
/// what is documented but not served.
package func undocumentedAndUnserved(routes: [String], document: ByteBuffer?) throws -> (undocumented: [String], unserved: [String]) {
    let data = try #require(document).readableBytesView
    let document = JSON(parsing: Data(data))
    #expect(document["openapi"].string?.hasPrefix("3.1") == true)
    let paths = try #require(document["paths"].object)
    var documented = Set<String>()
    for (path, operations) in paths {
        for method in operations.object?.keys ?? [:].keys where ["get", "put", "post", "delete", "patch"].contains(method) {
            documented.insert("\(method.uppercased()) \(path)")
        }
    }
    let served = Set(routes)
    return (served.subtracting(documented).sorted(), documented.subtracting(served).sorted())
}
