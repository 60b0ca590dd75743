import Foundation

/// `application/x-www-form-urlencoded` text (what an HTML form posts and OAuth2 token requests
/// use), decoded once: every name and value percent-decoded, checked for control characters, and
/// no name given twice.
package enum URLEncodedForm {
    package enum Problem: Error, Equatable {
        /// `name` (nil when the name itself is what holds it) contains a control character.
        case controlCharacter(name: String?, character: Unicode.Scalar)
        case repeated(name: String)
    }

    package static func decode(_ text: String) throws(Problem) -> [String: String] {
        var values: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecoded(parts[0])
            let value = parts.count > 1 ? percentDecoded(parts[1]) : ""
            if let bad = TextInput.firstControlCharacter(in: name) { throw .controlCharacter(name: nil, character: bad) }
            if let bad = TextInput.firstControlCharacter(in: value) { throw .controlCharacter(name: name, character: bad) }
            guard values[name] == nil else { throw .repeated(name: name) }
            values[name] = value
        }
        return values
    }

    static func percentDecoded(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
