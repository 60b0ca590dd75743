import WebSocketWire

/// The gateway as a client of backends: what it offers and what it accepts back.
extension PerMessageDeflate {
    /// What the gateway offers a backend.
    static let backendOffer = "permessage-deflate"

    /// As the client: the backend's answer to `backendOffer`; nil when it declined. Anything the
    /// gateway did not offer, or cannot honour, is a handshake failure (RFC 7692 §5).
    static func accepted(response values: [String], offered: Bool) -> Result<Parameters?, Backend.Failure> {
        let extensions = parse(values)
        guard let answer = extensions.first else { return .success(nil) }
        guard offered, extensions.count == 1, answer.name == "permessage-deflate" else {
            return .failure(.protocolViolation("extension '\(extensions.map(\.name).joined(separator: ", "))' was not offered"))
        }
        var parameters = Parameters()
        var seen = Set<String>()
        for (name, value) in answer.parameters {
            guard seen.insert(name).inserted else { return .failure(.protocolViolation("permessage-deflate repeats '\(name)'")) }
            switch name {
            case "server_no_context_takeover" where value == nil:
                parameters.decompressNoContextTakeover = true
            case "client_no_context_takeover" where value == nil:
                parameters.compressNoContextTakeover = true
            case "server_max_window_bits" where windowBits(value) != nil:
                break
            default:
                return .failure(.protocolViolation("permessage-deflate parameter '\(name)' is invalid or was not offered"))
            }
        }
        return .success(parameters)
    }
}
