import PorticoCore

/// Stage 2: a browser's handshake carries `Origin`; an API with an allow-list takes only those
/// origins (403 otherwise). Handshakes without `Origin` come from programs, not pages, and pass.
enum OriginCheck {
    static func check(_ origin: String?, allowed: [String]) throws(Refusal) {
        guard !allowed.isEmpty, let origin else { return }
        let normalized = APILimits.normalizedOrigin(origin)
        guard let normalized, allowed.contains(where: { APILimits.normalizedOrigin($0) == normalized }) else {
            throw .forbidden("origin_not_allowed", "Origin '\(origin)' is not allowed to use this API")
        }
    }
}
