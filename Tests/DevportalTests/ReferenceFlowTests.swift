import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import Testing

@testable import devportal

/// Step 3 of the reference flow: sign up, browse, create an application, subscribe with Gold,
/// generate keys and get access tokens, then check them against the JWKS.
@Suite struct ReferenceFlowTests {
    @Test func signUpSubscribeWithGoldAndGetTokens() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let api = try await provider.api()
            let catalog = try await anonymous.send(.get, "apis").json
            #expect(catalog["list"].array.map { $0["name"].string } == ["EchoWebSocket"])

            let dev = try await anonymous.developer("dev")
            let detail = try await dev.send(.get, "apis/\(api.id)").json
            #expect(detail["tiers"].array.compactMap { $0["tierName"].string } == ["Gold", "Silver"])
            let urls = detail["endpointURLs"][0]
            #expect(urls["URLs"]["ws"] == "ws://localhost:9099/echowebsocket/1.0.0")
            #expect(urls["URLs"]["wss"] == "wss://localhost:8099/echowebsocket/1.0.0")
            #expect(urls["defaultVersionURLs"]["ws"] == "ws://localhost:9099/echowebsocket")
            #expect(urls["environmentName"].string == "Production and Sandbox")

            let applicationID = try await dev.createApplication()
            let subscription = try await dev.subscribe(applicationID, to: api.id)
            #expect(subscription.status == .created, "\(subscription.text)")
            #expect(subscription["status"].string == "UNBLOCKED")
            #expect(subscription["throttlingPolicy"].string == "Gold")
            #expect(try await dev.send(.get, "applications/\(applicationID)")["subscriptionCount"].int == 1)

            let keys = try await dev.generateKeys(applicationID)
            let consumerKey = keys.consumerKey
            let secret = keys.consumerSecret
            let keyMappingID = keys.keyMappingId
            #expect(keys.keyType == "PRODUCTION")
            #expect(keys.supportedGrantTypes == ["client_credentials"])
            let firstToken = keys.token.accessToken

            let fromEndpoint = try await dev.token(consumerKey, secret)
            #expect(fromEndpoint.status == .ok, "\(fromEndpoint.text)")
            #expect(fromEndpoint["token_type"].string == "Bearer")
            #expect(fromEndpoint["expires_in"].int == 3600)
            #expect(fromEndpoint["scope"].string == "default")
            #expect(fromEndpoint.headers[.cacheControl] == "no-store")
            let secondToken = try #require(fromEndpoint["access_token"].string)

            let viaForm = try await dev.signedIn(nil).send(
                .post,
                "/oauth2/token",
                form: "grant_type=client_credentials&client_id=\(consumerKey)&client_secret=\(secret)&scope=chat%20read"
            )
            #expect(viaForm.status == .ok, "\(viaForm.text)")
            #expect(viaForm["scope"].string == "chat read")

            let generated = try await dev.send(
                .post,
                "applications/\(applicationID)/oauth-keys/\(keyMappingID)/generate-token",
                json: #"{"consumerSecret":"\#(secret)","validityPeriod":600,"scopes":["default"]}"#
            )
            #expect(generated.status == .ok, "\(generated.text)")
            #expect(generated["validityTime"].int == 600)
            #expect(generated["tokenScopes"].strings == ["default"])
            let thirdToken = try #require(generated["accessToken"].string)

            let jwks = try await anonymous.send(.get, "/oauth2/jwks").body
            for token in [firstToken, secondToken, thirdToken] {
                let claims = try IndependentJWT.verify(token, jwks: jwks)
                #expect(claims["iss"].string == "http://localhost:9081")
                #expect(claims["aud"].string == "portico-gateway" || claims["aud"].strings == ["portico-gateway"])
                #expect(claims["sub"].string == "dev")
                #expect(claims["client_id"].string == consumerKey)
                #expect(claims["keytype"].string == "PRODUCTION")
                #expect(claims["jti"].string != nil)
                for name in ["iat", "nbf", "exp"] { #expect(claims[name].int != nil, "\(name)") }
                let application = claims["application"]
                #expect(application["id"].string == applicationID)
                #expect(application["name"] == "EchoClient")
                #expect(application["owner"] == "dev")
                #expect(application["tier"] == "Unlimited")
                #expect(claims["subscriptions"] == nil, "subscriptions are checked live, not carried in the token")
            }
        }
    }

    @Test func authorizationServerMetadataNamesTheEndpoints() async throws {
        try await DevportalHarness.run { anonymous, _ in
            let metadata = try await anonymous.send(.get, "/.well-known/oauth-authorization-server").json
            #expect(metadata["issuer"].string == "http://localhost:9081")
            #expect(metadata["token_endpoint"].string == "http://localhost:9081/oauth2/token")
            #expect(metadata["jwks_uri"].string == "http://localhost:9081/oauth2/jwks")
            #expect(metadata["revocation_endpoint"].string == "http://localhost:9081/oauth2/revoke")
            #expect(metadata["introspection_endpoint"].string == "http://localhost:9081/oauth2/introspect")
            #expect(metadata["grant_types_supported"].strings == ["client_credentials"])
        }
    }
}

/// Verifies an RS256 JWT against a JWKS with swift-crypto's RSA directly: independent of the
/// jwt-kit code that signed it.
enum IndependentJWT {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func verify(_ token: String, jwks: Data) throws -> JSON {
        let parts = token.split(separator: ".").map(String.init)
        guard parts.count == 3,
            let headerData = Data(base64URLEncoded: parts[0]),
            let payloadData = Data(base64URLEncoded: parts[1]),
            let signature = Data(base64URLEncoded: parts[2])
        else { throw Failure(description: "not a JWT") }
        let (header, payload) = (JSON(parsing: headerData), JSON(parsing: payloadData))
        guard payload.object != nil else { throw Failure(description: "the payload is not a JSON object") }
        guard header["alg"] == "RS256" else { throw Failure(description: "alg is \(header["alg"])") }
        guard let kid = header["kid"].string else { throw Failure(description: "no kid") }
        guard let key = JSON(parsing: jwks)["keys"].array.first(where: { $0["kid"].string == kid }),
            let n = key["n"].string.flatMap({ Data(base64URLEncoded: $0) }),
            let e = key["e"].string.flatMap({ Data(base64URLEncoded: $0) })
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
