import Foundation

/// Query strings as sent: items split on `&`, each `name=value` or `name`.
package enum QueryString {
    /// An item's name, percent-decoded (left as sent when it does not decode).
    package static func name(of item: Substring) -> String {
        let raw = String(item.prefix { $0 != "=" })
        return raw.contains("%") ? raw.removingPercentEncoding ?? raw : raw
    }
}
