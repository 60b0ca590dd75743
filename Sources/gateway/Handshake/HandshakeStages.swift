import Foundation
import NIOHTTP1
import PorticoCore

/// The handshake's stages in their documented order, as one function of the request and what the
/// gateway holds at that moment (its snapshot, the endpoints' health, the connection counts): what
/// it returns is admitted, what it throws is the refusal to answer. No I/O; `record` learns, stage
/// by stage, what the log line and usage of a refusal need.
///
/// route (404/426/503) → origin (403) → credentials (401) → token (401) → access (403) → endpoint
/// suspended (503) → admission (429, the connection's slot under its plan's cap). The backend is
/// dialled after, by the handshake handler (502/504) — or, for an API with routes, its `$connect`
/// integration called (its status, or 502/504).
enum HandshakeStages {
    /// What takes the connection's messages.
    enum Destination {
        /// A WebSocket backend: where to dial, and the endpoint whose health it counts towards.
        case endpoint(Backend.Target, EndpointHealth.Endpoint)
        /// The API's route table (`$connect` is called by the handshake handler, after the stages).
        case routes(APIRoutes)
    }

    struct Admitted {
        let api: GatewayCatalog.API
        let caller: Caller
        let policy: ConnectionPolicy
        let destination: Destination
        /// The subscription whose connection slot this connection took (given back when it ends).
        let slot: String?
    }

    static func run(_ head: HTTPRequestHead, gateway: Gateway, record: inout HandshakeRecord) throws(Refusal) -> Admitted {
        let (path, query) = split(head.uri)
        guard let table = gateway.snapshot.current else {
            throw Refusal(status: .serviceUnavailable, code: "not_ready", message: "The gateway has not loaded its configuration yet")
        }
        guard let match = table.match(path: path) else { throw Refusal.notFound }
        record.api = .init(id: match.api.id, name: match.api.name, version: match.api.version)
        guard isWebSocketUpgrade(head) else {
            throw Refusal(
                status: .upgradeRequired,
                code: "upgrade_required",
                message: "This is a WebSocket API: send a WebSocket upgrade request",
                extraHeaders: [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]
            )
        }
        if match.api.state == .blocked {
            throw Refusal(status: .serviceUnavailable, code: "api_blocked", message: "The API is blocked by its provider")
        }
        try OriginCheck.check(head.headers.first(name: "Origin"), allowed: match.api.limits.allowedOrigins)
        let token = try Credentials.extract(headers: head.headers, query: queryItems(query))
        let caller = try gateway.verifier.verify(token, in: table)
        record.caller = caller
        let endpointURL = try Access.check(caller, match.api, in: table)
        let policy = ConnectionPolicy.resolve(caller, match.api, in: table, settings: gateway.settings)
        let destination: Destination
        if let endpointURL {
            var target: Backend.Target
            switch table.endpoint(endpointURL) {
            case .success(let parsed): target = parsed.target(rest: match.rest, clientQuery: query)
            case .failure(let failure): throw failure.refusal
            }
            target.caFile = match.api.backendCAFile
            let endpoint = EndpointHealth.Endpoint(apiID: match.api.id, url: endpointURL)
            try gateway.endpoints.check(endpoint)
            destination = .endpoint(target, endpoint)
        } else if let routes = match.api.routes {
            destination = .routes(routes)
        } else {
            throw Refusal.forbidden("no_endpoint", "The API has no endpoint and no routes")
        }
        // Last: a slot taken is a slot to give back, so nothing may refuse after it.
        if let subscription = policy.subscriptionID {
            try gateway.counts.admit(subscriptionID: subscription, cap: policy.maxConnections)
        }
        return Admitted(api: match.api, caller: caller, policy: policy, destination: destination, slot: policy.subscriptionID)
    }

    static func isWebSocketUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.method == .GET
            && head.headers[canonicalForm: "Connection"].contains { $0.lowercased() == "upgrade" }
            && head.headers.first(name: "Upgrade")?.lowercased() == "websocket"
            && head.headers.first(name: "Sec-WebSocket-Key") != nil
            && head.headers.first(name: "Sec-WebSocket-Version") == "13"
    }

    static func split(_ uri: String) -> (path: String, query: String?) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, nil) }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }

    static func queryItems(_ query: String?) -> [(name: String, value: String)] {
        (query ?? "").split(separator: "&").map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                // Foundation's string functions are slow on Linux: only called when there is something to decode.
                guard s.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) else { return String(s) }
                let t = s.replacingOccurrences(of: "+", with: " ")
                return t.removingPercentEncoding ?? t
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }
}
