import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import PorticoCore
import WebSocketWire

extension Backend {
    struct Target {
        let secure: Bool
        /// The CA bundle the backend's certificate must chain to (nil: the system's roots).
        var caFile: String? = nil
        let host: String
        let port: Int
        /// The address itself when the host is an IP literal: dialled without a name lookup.
        var address: SocketAddress? = nil
        let pathAndQuery: String
        let hostHeader: String
    }

    /// An endpoint URL taken apart once, when a snapshot is built, not on every handshake.
    struct Endpoint: Sendable {
        let secure: Bool
        let host: String
        let port: Int
        /// The address itself when the host is an IP literal (`127.0.0.1`, `[::1]`): connecting to it
        /// skips the resolver, its thread hop and the Happy Eyeballs timers, which were about a tenth
        /// of a handshake's CPU (`make profile`, handshakes).
        let address: SocketAddress?
        /// The URL's path without a trailing slash.
        let path: String
        let query: String?
        let hostHeader: String

        static func parse(_ endpoint: String) -> Result<Endpoint, Failure> {
            guard let url = URLComponents(string: endpoint), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
                return .failure(.unreachable("the endpoint '\(endpoint)' is not a URL"))
            }
            let secure = scheme == "wss"
            let defaultPort = secure ? 443 : 80
            let port = url.port ?? defaultPort
            var path = url.percentEncodedPath
            if path.hasSuffix("/") { path.removeLast() }
            let literal = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            return .success(
                Endpoint(
                    secure: secure,
                    host: host,
                    port: port,
                    address: try? SocketAddress(ipAddress: literal, port: port),
                    path: path,
                    query: url.percentEncodedQuery,
                    hostHeader: port == defaultPort ? host : "\(host):\(port)"
                )
            )
        }

        /// This endpoint + the remaining path + the client's query (without `access_token`).
        func target(rest: String, clientQuery: String?) -> Target {
            let path = path + rest
            let query = [self.query, clientQuery.map(withoutAccessToken)].compactMap { $0 }.filter { !$0.isEmpty }
            return Target(
                secure: secure,
                host: host,
                port: port,
                address: address,
                pathAndQuery: (path.isEmpty ? "/" : path) + (query.isEmpty ? "" : "?" + query.joined(separator: "&")),
                hostHeader: hostHeader
            )
        }
    }

    /// The query without any `access_token` parameter, other parameters byte for byte as sent.
    static func withoutAccessToken(_ query: String) -> String {
        query.split(separator: "&", omittingEmptySubsequences: false).filter { QueryString.name(of: $0) != "access_token" }
            .joined(separator: "&")
    }
}
