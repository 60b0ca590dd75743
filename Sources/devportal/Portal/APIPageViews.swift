import Foundation
import PorticoCore

/// A plan's limits in words, for the API page ("50000 events per day · 100 connections · …").
enum PlanWording {
    static func limit(_ tier: PageValue) -> String {
        var parts: [String] = []
        if let count = tier["eventCount"]?.int, let unit = tier["timeUnit"]?.string {
            let per = tier["unitTime"]?.int ?? 1
            let units = ["sec": "second", "min": "minute", "hour": "hour", "day": "day"][unit] ?? unit
            parts.append(per == 1 ? "\(count) events per \(units)" : "\(count) events per \(per) \(units)s")
        } else {
            parts.append("no event limit")
        }
        if let connections = tier["subscriberCount"]?.int {
            parts.append(connections == 0 ? "no connection cap" : "\(connections) connections at once")
        }
        if let bytes = tier["maxMessageBytes"]?.int { parts.append("messages up to \(bytes) bytes") }
        return parts.joined(separator: " · ")
    }
}

/// The tutorial's `wscat` commands for an API: header and `access_token` variants, ws and wss
/// (`-n`: the development certificate is self-signed), with the developer's token once they have
/// one and `$TOKEN` until then.
enum WscatCommands {
    static func list(ws: String, wss: String, token: String?) -> [[String: String]] {
        let value = token ?? "$TOKEN"
        let query = token.map { $0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0 } ?? "$TOKEN"
        return [
            [
                "id": "wscat-header", "label": "ws, token in the Authorization header",
                "command": "wscat -c \(ws) -H \"Authorization: Bearer \(value)\"",
            ],
            ["id": "wscat-query", "label": "ws, token in the query (as browsers must)", "command": "wscat -c \"\(ws)?access_token=\(query)\""],
            ["id": "wscat-header-tls", "label": "wss, token in the header", "command": "wscat -n -c \(wss) -H \"Authorization: Bearer \(value)\""],
            ["id": "wscat-query-tls", "label": "wss, token in the query", "command": "wscat -n -c \"\(wss)?access_token=\(query)\""],
        ]
    }
}

/// The API's AsyncAPI 2.6 document, readable: its servers, its channel's two directions, its
/// security schemes, and the document itself.
enum AsyncAPIView {
    static func values(_ document: PageValue) -> [String: Any] {
        func entries(_ value: PageValue?) -> [(String, PageValue)] {
            guard case .object(let fields) = value else { return [] }
            return fields.sorted { $0.key < $1.key }
        }
        let servers = entries(document["servers"]).map { name, server in
            [
                "name": name, "url": server["url"]?.string ?? "", "protocol": server["protocol"]?.string ?? "",
                "description": server["description"]?.string ?? "",
            ]
        }
        let channels = entries(document["channels"]).map { name, channel -> [String: Any] in
            func messages(_ operation: PageValue?) -> [[String: String]] {
                (operation?["message"]?["oneOf"]?.array ?? []).map { ["name": $0["name"]?.string ?? "", "summary": $0["summary"]?.string ?? ""] }
            }
            return [
                "name": name, "description": channel["description"]?.string ?? "",
                "publish": channel["publish"]?["summary"]?.string ?? "", "subscribe": channel["subscribe"]?["summary"]?.string ?? "",
                "routes": messages(channel["publish"]), "answers": messages(channel["subscribe"]),
            ]
        }
        let schemes = entries(document["components"]?["securitySchemes"]).map { name, scheme in
            ["name": name, "description": scheme["description"]?.string ?? ""]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = (try? encoder.encode(document)).flatMap { String(data: $0, encoding: .utf8) } ?? ""
        return ["version": document["asyncapi"]?.string ?? "", "servers": servers, "channels": channels, "schemes": schemes, "document": text]
    }
}
