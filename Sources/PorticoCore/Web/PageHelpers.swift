import Foundation
import Hummingbird

extension PorticoRequestContext {
    /// A path parameter to put into a REST path: percent-encoded, and never `.` or `..` (which
    /// would name another resource); otherwise the page is a 404.
    package func segment(_ name: String) throws -> String {
        let raw = try parameters.require(name)
        guard raw != ".", raw != "..", raw.utf8.count <= 128,
            let encoded = raw.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_~")))
        else { throw APIError.notFound("Nothing is at this address") }
        return encoded
    }
}

/// A value from a form put into a REST path: percent-encoded, dots too, so that it is one segment
/// and never `.` or `..`.
package func pathValue(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_~"))) ?? ""
}

/// The notices a page shows after a change (`?notice=<code>`): fixed words, never text from the URL.
package enum PageNotice: String {
    case saved
    case endpointSaved = "endpoint-saved"
    case subscriptionChanged = "subscription-changed"
    case connectionClosed = "connection-closed"
    case unsubscribed
    case lifecycleChanged = "lifecycle-changed"
    case createdNotPublished = "created-not-published"

    package var text: String {
        switch self {
        case .saved: "Saved"
        case .endpointSaved: "Endpoint saved"
        case .subscriptionChanged: "Subscription changed"
        case .connectionClosed: "Connection closed"
        case .unsubscribed: "Unsubscribed"
        case .lifecycleChanged: "Lifecycle state changed"
        case .createdNotPublished: "Created, but not published: the Lifecycle tab says what publishing needs"
        }
    }

    /// The notice a request's `?notice=` names, if it is one of these.
    package static func text(of request: Request) -> String? {
        request.uri.queryParameters["notice"].flatMap { PageNotice(rawValue: String($0)) }?.text
    }

    package var query: String { "?notice=\(rawValue)" }
}

/// A value put into a REST query string.
package func queryValue(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_.~"))) ?? ""
}

/// A usage series as bars a template draws in SVG (no script needed): one bar per point for
/// messages in and out, scaled to the largest.
package enum UsageChart {
    package static func bars(_ report: PageValue, height: Double = 160) -> [String: Any] {
        let series = report["series"]?.array ?? []
        let counts = series.map { point -> (String, Int, Int) in
            let usage = point["usage"]
            return (point["start"]?.string ?? "", usage?["messagesIn"]?.int ?? 0, usage?["messagesOut"]?.int ?? 0)
        }
        let peak = max(1, counts.map { max($0.1, $0.2) }.max() ?? 1)
        let width = max(1.0, 1000.0 / Double(max(1, counts.count)))
        let bars: [[String: Any]] = counts.enumerated().map { index, point in
            let inHeight = Double(point.1) / Double(peak) * height
            let outHeight = Double(point.2) / Double(peak) * height
            return [
                "label": "\(point.0): \(point.1) in, \(point.2) out",
                "x": String(format: "%.1f", Double(index) * width),
                "w": String(format: "%.1f", max(0.5, width / 2 - 0.5)),
                "x2": String(format: "%.1f", Double(index) * width + width / 2),
                "yIn": String(format: "%.1f", height - inHeight), "hIn": String(format: "%.1f", inHeight),
                "yOut": String(format: "%.1f", height - outHeight), "hOut": String(format: "%.1f", outHeight),
            ]
        }
        return ["bars": bars, "peak": peak, "points": counts.count, "total": report["total"]?.rendered ?? [:]]
    }
}
