/// What every log line does to credentials: the `access_token` query parameter of a URL and the
/// credential headers keep their names, never their values.
public enum LogRedaction {
    public static let placeholder = "REDACTED"
    static let secretParameters: Set<String> = ["access_token"]
    static let secretHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie"]

    /// `uri` with the value of every `access_token` parameter replaced.
    public static func url(_ uri: String) -> String {
        guard let mark = uri.firstIndex(of: "?") else { return uri }
        let query = uri[uri.index(after: mark)...]
        guard query.lowercased().contains("access") else { return uri }
        let items = query.split(separator: "&", omittingEmptySubsequences: false).map { item -> String in
            let name = item.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            return secretParameters.contains(name.removingPercentEscapesLossy.lowercased()) ? "\(name)=\(placeholder)" : String(item)
        }
        return String(uri[...mark]) + items.joined(separator: "&")
    }

    /// The headers with the values of credential headers (`Authorization`, `Proxy-Authorization`,
    /// `Cookie`) replaced.
    public static func headers(_ headers: [(String, String)]) -> [(String, String)] {
        headers.map { name, value in (name, secretHeaders.contains(name.lowercased()) ? placeholder : value) }
    }
}

extension String {
    /// Percent-decoding that keeps the text when it is not valid (a parameter name to compare).
    fileprivate var removingPercentEscapesLossy: String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
