import Crypto
import CryptoExtras
import Foundation

@testable import PorticoCore
@testable import gateway

/// A gateway catalog and tokens made here, for the tests of the handshake's stages and of what
/// they keep: five APIs, one application with production and sandbox keys, its subscription to
/// `echo1`, and RS256 tokens signed by swift-crypto (not the devportal's code) with key `k1`.
enum CatalogFixtures {
    static let signingKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let otherKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    static func api(
        _ id: String,
        context: String,
        version: String,
        state: LifecycleState = .published,
        isDefault: Bool = false,
        sandbox: String? = nil
    ) -> GatewayCatalog.API {
        GatewayCatalog.API(
            id: id,
            name: id,
            context: context,
            version: version,
            state: state,
            isDefaultVersion: isDefault,
            productionEndpoint: "ws://backend",
            sandboxEndpoint: sandbox
        )
    }

    static func table(
        subscriptionStatus: PorticoCore.Subscription.Status? = .unblocked,
        revoked: [String] = [],
        apis: [GatewayCatalog.API]? = nil,
        keyPublished: Bool = true,
        keyPublishedUntil: Date? = nil
    ) -> RouteTable {
        RouteTable(
            GatewayCatalog(
                apis: apis ?? [
                    api("echo1", context: "/echowebsocket", version: "1.0.0", isDefault: true),
                    api("echo2", context: "/echowebsocket", version: "2.0.0"),
                    api("deep", context: "/a/b", version: "v1", isDefault: true),
                    api("proto", context: "/proto", version: "1", state: .prototyped),
                    api("blocked", context: "/blocked", version: "1", state: .blocked),
                ],
                subscriptions: subscriptionStatus.map { [.init(id: "s", applicationID: "app", apiID: "echo1", status: $0)] } ?? [],
                applicationIDs: ["app"],
                keys: [
                    .init(consumerKey: "ck", applicationID: "app", keyType: .production),
                    .init(consumerKey: "sk", applicationID: "app", keyType: .sandbox),
                ],
                revokedTokens: Dictionary(uniqueKeysWithValues: revoked.map { ($0, Date().addingTimeInterval(600)) }),
                signingKeys: keyPublished
                    ? [.init(kid: "k1", publicKeyPEM: signingKey.publicKey.pemRepresentation, publishedUntil: keyPublishedUntil)] : [],
                loadedAt: Date()
            )
        )
    }

    static func token(
        alg: String = "RS256",
        kid: String = "k1",
        key: _RSA.Signing.PrivateKey = signingKey,
        claims overrides: [String: Any] = [:]
    ) throws -> String {
        let now = Date().timeIntervalSince1970
        var claims: [String: Any] = [
            "iss": "http://localhost:9081", "aud": "portico-gateway", "sub": "dev", "iat": now, "nbf": now, "exp": now + 600,
            "jti": "jti-1", "client_id": "ck", "keytype": "PRODUCTION", "scope": "default",
            "application": ["id": "app", "name": "App", "owner": "dev", "tier": "Unlimited"],
        ]
        claims.merge(overrides) { _, new in new }
        let header = try JSONSerialization.data(withJSONObject: ["alg": alg, "typ": "JWT", "kid": kid])
        let payload = try JSONSerialization.data(withJSONObject: claims)
        let signingInput = "\(header.base64URLEncoded).\(payload.base64URLEncoded)"
        let signature = try key.signature(for: SHA256.hash(data: Data(signingInput.utf8)), padding: .insecurePKCS1v1_5)
        return "\(signingInput).\(signature.rawRepresentation.base64URLEncoded)"
    }
}
