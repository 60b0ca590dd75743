/// What every log line does to credentials: the `access_token` query parameter of a URL and the
/// credential headers keep their names, never their values.
package enum LogRedaction {
    package static let placeholder = "REDACTED"
    static let secretHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie"]

    /// `uri` with the value of every `access_token` parameter (its name in any case) replaced.
    package static func url(_ uri: String) -> String {
        guard let mark = uri.firstIndex(of: "?") else { return uri }
        let items = uri[uri.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: false)
        func isToken(_ item: Substring) -> Bool { QueryString.name(of: item).lowercased() == "access_token" }
        guard items.contains(where: isToken) else { return uri }
        return String(uri[...mark]) + items.map { isToken($0) ? "\($0.prefix { $0 != "=" })=\(placeholder)" : String($0) }.joined(separator: "&")
    }

    /// The headers with the values of credential headers (`Authorization`, `Proxy-Authorization`,
    /// `Cookie`) replaced.
    package static func headers(_ headers: [(String, String)]) -> [(String, String)] {
        headers.map { name, value in (name, secretHeaders.contains(name.lowercased()) ? placeholder : value) }
    }
}
