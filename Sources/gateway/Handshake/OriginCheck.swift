import PorticoCore

/// Stage 2: a browser's handshake carries `Origin`; an API with an allow-list takes only those
/// origins (403 otherwise). Handshakes without `Origin` come from programs, not pages, and pass.
enum OriginCheck {
    /// `allowed`: normalized when the snapshot was loaded, so only the handshake's origin is parsed here.
    static func check(_ origin: String?, allowed: [String]) throws(Refusal) {
        guard !allowed.isEmpty, let origin else { return }
        guard let normalized = APILimits.normalizedOrigin(origin), allowed.contains(normalized) else {
            throw .forbidden("origin_not_allowed", "Origin '\(origin)' is not allowed to use this API")
        }
    }
}
