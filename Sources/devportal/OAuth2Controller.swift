import Foundation
import Hummingbird
import PorticoCore

/// The OAuth2 authorization server, as the RFCs say: token (RFC 6749 §4.4, client credentials),
/// revocation (RFC 7009), introspection (RFC 7662), JWKS (RFC 7517) and metadata (RFC 8414).
/// Errors are `{error, error_description}`.
extension JSONWebKeySet: ResponseEncodable {}

struct OAuth2Controller {
    let keys: ClientKeyStore
    let applications: ApplicationStore
    let tokens: TokenStore
    let issuer: TokenIssuer
    let settings: DevportalSettings
    let failures = FailureLimiter(maxFailures: 5, window: 60)

    struct TokenResponse: ResponseEncodable {
        let access_token: String
        let token_type = "Bearer"
        let expires_in: Int
        let scope: String
    }

    struct Introspection: ResponseEncodable {
        let active: Bool
        var scope: String?
        var client_id: String?
        var username: String?
        var token_type: String?
        var exp: Int?
        var iat: Int?
        var nbf: Int?
        var sub: String?
        var aud: String?
        var iss: String?
        var jti: String?
        var keytype: String?
    }

    struct Metadata: ResponseEncodable {
        let issuer: String
        let token_endpoint: String
        let revocation_endpoint: String
        let introspection_endpoint: String
        let jwks_uri: String
        let grant_types_supported = ["client_credentials"]
        let response_types_supported: [String] = []
        let token_endpoint_auth_methods_supported = ["client_secret_basic", "client_secret_post"]
        let revocation_endpoint_auth_methods_supported = ["client_secret_basic", "client_secret_post"]
        let introspection_endpoint_auth_methods_supported = ["client_secret_basic", "client_secret_post"]
        let token_endpoint_auth_signing_alg_values_supported = ["RS256"]
    }

    static let noStore: HTTPFields = [.cacheControl: "no-store", .init("Pragma")!: "no-cache"]

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .post("oauth2/token", use: token)
            .post("oauth2/revoke", use: revoke)
            .post("oauth2/introspect", use: introspect)
            .get("oauth2/jwks", use: jwks)
            .get(".well-known/oauth-authorization-server", use: metadata)
    }

    /// RFC 7517: the public signing keys, cacheable for five minutes.
    @Sendable func jwks(_ request: Request, context: Context) async throws -> EditedResponse<JSONWebKeySet> {
        EditedResponse(headers: [.cacheControl: "public, max-age=300"], response: try JSONWebKeySet(try await issuer.signingKeys.publishedKeys()))
    }

    /// RFC 8414: where each endpoint is and what it supports.
    @Sendable func metadata(_ request: Request, context: Context) async throws -> Metadata {
        let base = settings.publicURL
        return Metadata(
            issuer: base,
            token_endpoint: "\(base)/oauth2/token",
            revocation_endpoint: "\(base)/oauth2/revoke",
            introspection_endpoint: "\(base)/oauth2/introspect",
            jwks_uri: "\(base)/oauth2/jwks"
        )
    }

    @Sendable func token(_ request: Request, context: Context) async throws -> EditedResponse<TokenResponse> {
        let form = try await FormBody.parse(request, limit: context.maxUploadSize)
        let (key, application) = try await authenticateClient(request, form)
        guard let grantType = form["grant_type"] else {
            throw OAuthError(.badRequest, "invalid_request", "grant_type is required")
        }
        guard grantType == "client_credentials" else {
            throw OAuthError(.badRequest, "unsupported_grant_type", "only client_credentials is supported")
        }
        guard key.grantTypes.contains(grantType) else {
            throw OAuthError(.badRequest, "unauthorized_client", "these keys may not use client_credentials")
        }
        let scope: String
        do {
            scope = try OAuthScope.normalise(form["scope"], field: "scope")
        } catch {
            throw OAuthError(.badRequest, "invalid_scope", "the scope is malformed")
        }
        let issued = try await issuer.issue(
            for: key,
            application: .init(id: application.id, name: application.name, owner: application.owner, tier: application.plan),
            scope: scope,
            validity: settings.defaultTokenValidity
        )
        return EditedResponse(
            headers: Self.noStore,
            response: TokenResponse(access_token: issued.accessToken, expires_in: issued.expiresIn, scope: issued.scope)
        )
    }

    /// RFC 7009: 200 whether or not the token was known; a token issued to another client is refused.
    @Sendable func revoke(_ request: Request, context: Context) async throws -> Response {
        let form = try await FormBody.parse(request, limit: context.maxUploadSize)
        let (key, _) = try await authenticateClient(request, form)
        guard let token = form["token"], !token.isEmpty else {
            throw OAuthError(.badRequest, "invalid_request", "token is required")
        }
        if let jti = Self.tokenID(token), let record = try await tokens.find(jti: jti) {
            guard record.consumerKey == key.consumerKey else {
                throw OAuthError(.badRequest, "unauthorized_client", "the token was not issued to this client")
            }
            try await tokens.revoke(jti: jti)
        }
        return Response(status: .ok, headers: Self.noStore)
    }

    /// RFC 7662: a client may introspect its own tokens; anything else is `{"active": false}`.
    @Sendable func introspect(_ request: Request, context: Context) async throws -> EditedResponse<Introspection> {
        let form = try await FormBody.parse(request, limit: context.maxUploadSize)
        let (key, _) = try await authenticateClient(request, form)
        guard let token = form["token"], !token.isEmpty else {
            throw OAuthError(.badRequest, "invalid_request", "token is required")
        }
        let inactive = Introspection(active: false)
        guard let claims = await issuer.verify(token), claims.client_id == key.consumerKey,
            let record = try await tokens.find(jti: claims.jti.value), !record.revoked
        else { return EditedResponse(headers: Self.noStore, response: inactive) }
        return EditedResponse(
            headers: Self.noStore,
            response: Introspection(
                active: true,
                scope: claims.scope,
                client_id: claims.client_id,
                username: claims.sub.value,
                token_type: "Bearer",
                exp: Int(claims.exp.value.timeIntervalSince1970),
                iat: Int(claims.iat.value.timeIntervalSince1970),
                nbf: Int(claims.nbf.value.timeIntervalSince1970),
                sub: claims.sub.value,
                aud: claims.aud.value.first,
                iss: claims.iss.value,
                jti: claims.jti.value,
                keytype: claims.keytype
            )
        )
    }

    /// The `jti` of a JWT, read without verifying it (revocation only needs the id).
    static func tokenID(_ token: String) -> String? {
        guard let jws = CompactJWS(token), let object = try? JSONSerialization.jsonObject(with: jws.payload) as? [String: Any]
        else { return nil }
        return object["jti"] as? String
    }

    /// Client authentication (RFC 6749 §2.3.1): HTTP Basic or `client_id`/`client_secret` in the
    /// form, not both. Repeated failures for one client id are answered 429 for a while.
    func authenticateClient(_ request: Request, _ form: [String: String]) async throws -> (ClientKey, ClientApplication) {
        var clientID: String?
        var secret: String?
        if let header = request.headers[.authorization] {
            guard form["client_secret"] == nil else {
                throw OAuthError(.badRequest, "invalid_request", "authenticate with HTTP Basic or client_secret, not both")
            }
            guard let (id, password) = BasicAuthMiddleware.parse(header) else {
                throw OAuthError.invalidClient("the Authorization header is not HTTP Basic client credentials")
            }
            clientID = id.removingPercentEncoding ?? id
            secret = password.removingPercentEncoding ?? password
        } else {
            clientID = form["client_id"]
            secret = form["client_secret"]
        }
        guard let clientID, let secret, !clientID.isEmpty else {
            throw OAuthError.invalidClient("client authentication is required")
        }
        // RFC 6749 §2.3.1 percent-decodes Basic credentials, which can make a control character.
        guard TextInput.firstControlCharacter(in: clientID) == nil, TextInput.firstControlCharacter(in: secret) == nil else {
            throw OAuthError.invalidClient("unknown client or wrong secret")
        }
        if let retryAfter = await failures.retryAfter(clientID) {
            throw OAuthError(
                .tooManyRequests,
                "slow_down",
                "too many failed attempts for this client; retry later",
                headers: [.retryAfter: "\(retryAfter)"]
            )
        }
        guard let key = try await keys.authenticate(consumerKey: clientID, secret: secret),
            let application = try await applications.owned(by: key)
        else {
            await failures.recordFailure(clientID)
            throw OAuthError.invalidClient("unknown client or wrong secret")
        }
        await failures.reset(clientID)
        return (key, application)
    }
}
