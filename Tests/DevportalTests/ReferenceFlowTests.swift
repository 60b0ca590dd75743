import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import PorticoCore
import Testing

@testable import devportal

/// Step 3 of the reference flow: sign up, browse, create an application, subscribe with Gold,
/// generate keys and get access tokens, then check them against the JWKS.
@Suite struct ReferenceFlowTests {
    @Test func signUpSubscribeWithGoldAndGetTokens() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let api = try await provider.api()
            let catalog = try await anonymous.send(.get, "apis").json
            #expect((catalog["list"] as? [[String: Any]])?.map { $0["name"] as? String } == ["EchoWebSocket"])

            let dev = try await anonymous.developer("dev")
            let detail = try await dev.send(.get, "apis/\(api.id)").json
            #expect((detail["tiers"] as? [[String: Any]])?.compactMap { $0["tierName"] as? String } == ["Gold", "Silver"])
            let urls = (detail["endpointURLs"] as? [[String: Any]])?.first
            #expect((urls?["URLs"] as? [String: String])?["ws"] == "ws://localhost:9099/echowebsocket/1.0.0")
            #expect((urls?["URLs"] as? [String: String])?["wss"] == "wss://localhost:8099/echowebsocket/1.0.0")
            #expect((urls?["defaultVersionURLs"] as? [String: String])?["ws"] == "ws://localhost:9099/echowebsocket")
            #expect(urls?["environmentName"] as? String == "Production and Sandbox")

            let applicationID = try await dev.createApplication()
            let subscription = try await dev.subscribe(applicationID, to: api.id)
            #expect(subscription.status == .created, "\(subscription.text)")
            #expect(subscription["status"] as? String == "UNBLOCKED")
            #expect(subscription["throttlingPolicy"] as? String == "Gold")
            #expect(try await dev.send(.get, "applications/\(applicationID)")["subscriptionCount"] as? Int == 1)

            let keys = try await dev.generateKeys(applicationID)
            let consumerKey = try #require(keys["consumerKey"] as? String)
            let secret = try #require(keys["consumerSecret"] as? String)
            let keyMappingID = try #require(keys["keyMappingId"] as? String)
            #expect(keys["keyType"] as? String == "PRODUCTION")
            #expect(keys["supportedGrantTypes"] as? [String] == ["client_credentials"])
            let firstToken = try #require((keys["token"] as? [String: Any])?["accessToken"] as? String)

            let fromEndpoint = try await dev.token(consumerKey, secret)
            #expect(fromEndpoint.status == .ok, "\(fromEndpoint.text)")
            #expect(fromEndpoint["token_type"] as? String == "Bearer")
            #expect(fromEndpoint["expires_in"] as? Int == 3600)
            #expect(fromEndpoint["scope"] as? String == "default")
            #expect(fromEndpoint.headers[.cacheControl] == "no-store")
            let secondToken = try #require(fromEndpoint["access_token"] as? String)

            let viaForm = try await dev.signedIn(nil).send(
                .post,
                "/oauth2/token",
                form: "grant_type=client_credentials&client_id=\(consumerKey)&client_secret=\(secret)&scope=chat%20read"
            )
            #expect(viaForm.status == .ok, "\(viaForm.text)")
            #expect(viaForm["scope"] as? String == "chat read")

            let generated = try await dev.send(
                .post,
                "applications/\(applicationID)/oauth-keys/\(keyMappingID)/generate-token",
                json: #"{"consumerSecret":"\#(secret)","validityPeriod":600,"scopes":["default"]}"#
            )
            #expect(generated.status == .ok, "\(generated.text)")
            #expect(generated["validityTime"] as? Int == 600)
            #expect(generated["tokenScopes"] as? [String] == ["default"])
            let thirdToken = try #require(generated["accessToken"] as? String)

            let jwks = try await anonymous.send(.get, "/oauth2/jwks").body
            for token in [firstToken, secondToken, thirdToken] {
                let claims = try IndependentJWT.verify(token, jwks: jwks)
                #expect(claims["iss"] as? String == "http://localhost:9081")
                #expect(claims["aud"] as? String == "portico-gateway" || (claims["aud"] as? [String]) == ["portico-gateway"])
                #expect(claims["sub"] as? String == "dev")
                #expect(claims["client_id"] as? String == consumerKey)
                #expect(claims["keytype"] as? String == "PRODUCTION")
                #expect(claims["jti"] is String)
                for name in ["iat", "nbf", "exp"] { #expect(claims[name] is NSNumber, "\(name)") }
                let application = claims["application"] as? [String: Any]
                #expect(application?["id"] as? String == applicationID)
                #expect(application?["name"] as? String == "EchoClient")
                #expect(application?["owner"] as? String == "dev")
                #expect(application?["tier"] as? String == "Unlimited")
                #expect(claims["subscriptions"] == nil, "subscriptions are checked live, not carried in the token")
            }
        }
    }

    @Test func authorizationServerMetadataNamesTheEndpoints() async throws {
        try await DevportalHarness.run { anonymous, _ in
            let metadata = try await anonymous.send(.get, "/.well-known/oauth-authorization-server").json
            #expect(metadata["issuer"] as? String == "http://localhost:9081")
            #expect(metadata["token_endpoint"] as? String == "http://localhost:9081/oauth2/token")
            #expect(metadata["jwks_uri"] as? String == "http://localhost:9081/oauth2/jwks")
            #expect(metadata["revocation_endpoint"] as? String == "http://localhost:9081/oauth2/revoke")
            #expect(metadata["introspection_endpoint"] as? String == "http://localhost:9081/oauth2/introspect")
            #expect(metadata["grant_types_supported"] as? [String] == ["client_credentials"])
        }
    }
}

/// Verifies an RS256 JWT against a JWKS with swift-crypto's RSA directly: independent of the
/// jwt-kit code that signed it.
enum IndependentJWT {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func verify(_ token: String, jwks: Data) throws -> [String: Any] {
        let parts = token.split(separator: ".").map(String.init)
        guard parts.count == 3,
            let headerData = Data(base64URLEncoded: parts[0]),
            let header = try JSONSerialization.jsonObject(with: headerData) as? [String: Any],
            let payloadData = Data(base64URLEncoded: parts[1]),
            let payload = try JSONSerialization.jsonObject(with: payloadData) as? [String: Any],
            let signature = Data(base64URLEncoded: parts[2])
        else { throw Failure(description: "not a JWT") }
        guard header["alg"] as? String == "RS256" else { throw Failure(description: "alg is \(header["alg"] ?? "missing")") }
        guard let kid = header["kid"] as? String else { throw Failure(description: "no kid") }
        let set = try JSONSerialization.jsonObject(with: jwks) as? [String: Any]
        guard let key = (set?["keys"] as? [[String: Any]])?.first(where: { $0["kid"] as? String == kid }),
            let n = (key["n"] as? String).flatMap({ Data(base64URLEncoded: $0) }),
            let e = (key["e"] as? String).flatMap({ Data(base64URLEncoded: $0) })
        else { throw Failure(description: "kid \(kid) is not in the JWKS") }
        let publicKey = try _RSA.Signing.PublicKey(n: n, e: e)
        let signed = Data("\(parts[0]).\(parts[1])".utf8)
        guard
            publicKey.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature),
                for: SHA256.hash(data: signed),
                padding: .insecurePKCS1v1_5
            )
        else { throw Failure(description: "bad signature") }
        return payload
    }
}
