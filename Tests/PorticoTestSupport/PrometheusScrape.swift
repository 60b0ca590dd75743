import Foundation

/// A `/metrics` page, read as Prometheus does: a sample is its name and its set of labels.
package struct PrometheusScrape: Sendable {
    package let text: String

    package static func read(_ baseURL: String) async throws -> PrometheusScrape {
        PrometheusScrape(text: String(decoding: try await HTTP.send("GET", "\(baseURL)/metrics").body, as: UTF8.self))
    }

    /// The sample `name{labels}`, the labels in any order; nil when there is none.
    package func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = line[..<space]
            let sampleName = series.prefix { $0 != "{" }
            guard sampleName == name else { continue }
            var found: [String: String] = [:]
            if let open = series.firstIndex(of: "{") {
                let inner = series[series.index(after: open)..<series.index(before: series.endIndex)]
                for pair in inner.split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    found[String(parts[0])] = String(parts[1].dropFirst().dropLast())
                }
            }
            if found == labels { return Double(line[line.index(after: space)...]) }
        }
        return nil
    }
}
