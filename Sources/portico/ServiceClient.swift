import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// An error the CLI reports as one line on standard error, exiting 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The two REST services the CLI speaks to, and where their APIs are.
enum ServiceKind: String, CaseIterable, Sendable {
    case publisher, devportal

    var basePath: String {
        switch self {
        case .publisher: "/api/am/publisher/v4"
        case .devportal: "/api/am/devportal/v3"
        }
    }
}

/// Requests to one service as one user: JSON in and out, any error the server answers reported
/// with its own message.
struct ServiceClient: Sendable {
    let kind: ServiceKind
    /// The service's root URL (`http://127.0.0.1:9080`).
    let url: String
    let authorization: String?

    /// Sends a request; `path` is relative to the service's API unless it starts with `/`. The
    /// body of a 2xx answer, or a `CLIError` with the server's message.
    @discardableResult
    func send(
        _ method: HTTPMethod,
        _ path: String,
        body: Data? = nil,
        contentType: String = "application/json",
        headers extra: [(String, String)] = []
    ) async throws -> Data {
        let target = url + (path.hasPrefix("/") ? path : "\(kind.basePath)/\(path)")
        var request = HTTPClientRequest(url: target)
        request.method = method
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        let data: Data
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            data = Data(try await response.body.collect(upTo: 64 * 1024 * 1024).readableBytesView)
        } catch {
            throw CLIError("cannot reach the \(kind.rawValue) at \(url): \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            throw CLIError(Self.describe(status: Int(response.status.code), body: data))
        }
        return data
    }

    /// `status message: description`, from Portico's `{code, message, description}` or OAuth2's
    /// `{error, error_description}`.
    static func describe(status: Int, body: Data) -> String {
        let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        if let message = json["message"] as? String {
            return "\(status) \(message): \(json["description"] as? String ?? "")"
        }
        if let error = json["error"] as? String {
            return "\(status) \(error): \(json["error_description"] as? String ?? "")"
        }
        return "\(status) \(HTTPResponseStatus(statusCode: status).reasonPhrase)"
    }
}
