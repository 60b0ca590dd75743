import PorticoCore

/// What can withdraw a verified token after it was issued, as one snapshot says: its revocation,
/// and the deletion of its keys or their application. The handshake (`TokenVerifier`) and the live
/// enforcement of open connections (`Connections.enforce`) ask it the same way.
struct TokenStanding: Sendable {
    let revoked: Bool
    /// The token's keys, while they and their application exist.
    let key: GatewayCatalog.Key?
}

extension RouteTable {
    func standing(ofToken jti: String, consumerKey: String) -> TokenStanding {
        let key = keys[consumerKey].flatMap { applications[$0.applicationID] != nil ? $0 : nil }
        return TokenStanding(revoked: revokedTokens[jti] != nil, key: key)
    }
}
