import Foundation
import Hummingbird
import PorticoCore

/// An application's client keys: generate them (the secret is shown once), list them (never with
/// the secret), regenerate the secret, and get a token for them.
struct KeysController {
    let applications: ApplicationStore
    let keys: ClientKeyStore
    let issuer: TokenIssuer
    let settings: DevportalSettings

    struct GenerateBody: Decodable {
        var keyType: String?
        var grantTypesToBeSupported: [String]?
        var validityTime: FlexibleInt?
        var scopes: [String]?
    }

    struct TokenBody: Decodable {
        var consumerSecret: String?
        var validityPeriod: FlexibleInt?
        var scopes: [String]?
    }

    struct TokenRepresentation: ResponseEncodable, Sendable {
        let accessToken: String
        let tokenScopes: [String]
        let validityTime: Int
    }

    /// WSO2 devportal v3 `ApplicationKey`; `consumerSecret` only in the answer that made it.
    struct KeyRepresentation: ResponseEncodable, Sendable {
        let keyMappingId, keyType, consumerKey: String
        let consumerSecret: String?
        let supportedGrantTypes: [String]
        let keyState = "COMPLETED"
        let token: TokenRepresentation?
    }

    struct SecretRepresentation: ResponseEncodable {
        let consumerKey: String
        let consumerSecret: String
    }

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .post("{applicationId}/generate-keys", use: generateKeys)
            .get("{applicationId}/oauth-keys", use: listKeys)
            .post("{applicationId}/oauth-keys/{keyMappingId}/regenerate-secret", use: regenerateSecret)
            .post("{applicationId}/oauth-keys/{keyMappingId}/generate-token", use: generateToken)
            .post("{applicationId}/try-out-token", use: tryOutToken)
    }

    struct TryOutBody: Decodable {
        var keyType: String?
        var validityPeriod: FlexibleInt?
    }

    /// The longest a try-out token lives: the console's connection needs it for its handshake only.
    static let tryOutValidity = 300

    /// A short-lived token for the application's own keys, for its signed-in owner, without the
    /// consumer secret (which is never stored): what the portal's try-out console connects with.
    /// It is an ordinary access token of those keys — the gateway checks it like any other — and
    /// lives at most `tryOutValidity` seconds.
    @Sendable func tryOutToken(_ request: Request, context: Context) async throws -> TokenRepresentation {
        let (application, _) = try await owned(context)
        let body = try await request.decodeJSON(TryOutBody.self, context: context)
        let rawType = body.keyType ?? KeyType.production.rawValue
        guard let keyType = KeyType(rawValue: rawType.uppercased()) else {
            throw APIError.invalidField("keyType", "'\(rawType)' is not PRODUCTION or SANDBOX")
        }
        let requested = body.validityPeriod?.value ?? Self.tryOutValidity
        guard (1...Self.tryOutValidity).contains(requested) else {
            throw APIError.invalidField("validityPeriod", "A try-out token lives 1 to \(Self.tryOutValidity) s, not \(requested)")
        }
        guard let key = try await keys.list(applicationID: application.id).first(where: { $0.keyType == keyType }) else {
            throw APIError(
                .conflict,
                "Conflict",
                "The application has no \(keyType.rawValue) keys yet; generate them first (POST .../generate-keys)"
            )
        }
        let token = try await issuer.issue(
            for: key,
            application: claim(application),
            scope: try OAuthScope.normalise(nil, field: "scopes"),
            validity: min(requested, settings.maxTokenValidity)
        )
        return TokenRepresentation(accessToken: token.accessToken, tokenScopes: OAuthScope.list(token.scope), validityTime: token.expiresIn)
    }

    @Sendable func generateKeys(_ request: Request, context: Context) async throws -> KeyRepresentation {
        let (application, _) = try await owned(context)
        let body = try await request.decodeJSON(GenerateBody.self, context: context)
        guard let rawType = body.keyType else { throw APIError.invalidField("keyType", "The field is required") }
        guard let keyType = KeyType(rawValue: rawType.uppercased()) else {
            throw APIError.invalidField("keyType", "'\(rawType)' is not PRODUCTION or SANDBOX")
        }
        let grants = body.grantTypesToBeSupported ?? ClientKey.supportedGrantTypes
        if let unsupported = grants.first(where: { !ClientKey.supportedGrantTypes.contains($0) }) {
            throw APIError.invalidField("grantTypesToBeSupported", "'\(unsupported)' is not supported; Portico supports client_credentials")
        }
        let validity = try validity(body.validityTime, field: "validityTime")
        let scope = try OAuthScope.normalise(body.scopes?.joined(separator: " "), field: "scopes")
        let (key, secret) = try await keys.generate(applicationID: application.id, keyType: keyType, grantTypes: grants)
        let token = try await issuer.issue(for: key, application: claim(application), scope: scope, validity: validity)
        return KeyRepresentation(
            keyMappingId: key.id,
            keyType: key.keyType.rawValue,
            consumerKey: key.consumerKey,
            consumerSecret: secret,
            supportedGrantTypes: key.grantTypes,
            token: TokenRepresentation(accessToken: token.accessToken, tokenScopes: OAuthScope.list(token.scope), validityTime: token.expiresIn)
        )
    }

    @Sendable func listKeys(_ request: Request, context: Context) async throws -> CountedList<KeyRepresentation> {
        let (application, _) = try await owned(context)
        let all = try await keys.list(applicationID: application.id).map {
            KeyRepresentation(
                keyMappingId: $0.id,
                keyType: $0.keyType.rawValue,
                consumerKey: $0.consumerKey,
                consumerSecret: nil,
                supportedGrantTypes: $0.grantTypes,
                token: nil
            )
        }
        return CountedList(all)
    }

    @Sendable func regenerateSecret(_ request: Request, context: Context) async throws -> SecretRepresentation {
        let (_, key) = try await ownedKey(context)
        let secret = try await keys.regenerateSecret(of: key)
        return SecretRepresentation(consumerKey: key.consumerKey, consumerSecret: secret)
    }

    @Sendable func generateToken(_ request: Request, context: Context) async throws -> TokenRepresentation {
        let (application, key) = try await ownedKey(context)
        let body = try await request.decodeJSON(TokenBody.self, context: context)
        guard let secret = body.consumerSecret else { throw APIError.invalidField("consumerSecret", "The field is required") }
        let validity = try validity(body.validityPeriod, field: "validityPeriod")
        let scope = try OAuthScope.normalise(body.scopes?.joined(separator: " "), field: "scopes")
        guard try await keys.verifySecret(secret, of: key) else {
            throw APIError.invalidField("consumerSecret", "The consumer secret does not match these keys")
        }
        let token = try await issuer.issue(for: key, application: claim(application), scope: scope, validity: validity)
        return TokenRepresentation(
            accessToken: token.accessToken,
            tokenScopes: OAuthScope.list(token.scope),
            validityTime: token.expiresIn
        )
    }

    func owned(_ context: Context) async throws -> (ClientApplication, User) {
        let user = try context.developer(to: "manage application keys")
        let application = try await ApplicationsController.find(
            try context.parameters.require("applicationId"),
            owner: user,
            in: applications
        )
        return (application, user)
    }

    func ownedKey(_ context: Context) async throws -> (ClientApplication, ClientKey) {
        let (application, _) = try await owned(context)
        let id = try context.parameters.require("keyMappingId")
        guard let key = try await keys.get(id: id, applicationID: application.id) else {
            throw APIError.notFound("No keys with id '\(id)' in this application")
        }
        return (application, key)
    }

    /// A requested token lifetime: absent, 0 or negative means the default; above the maximum is 400.
    func validity(_ requested: FlexibleInt?, field: String) throws -> Int {
        guard let value = requested?.value, value > 0 else { return settings.defaultTokenValidity }
        guard value <= settings.maxTokenValidity else {
            throw APIError.invalidField(field, "\(value) s is longer than the allowed \(settings.maxTokenValidity) s")
        }
        return value
    }

    func claim(_ application: ClientApplication) -> AccessTokenClaims.ApplicationClaim {
        .init(id: application.id, name: application.name, owner: application.owner, tier: application.plan)
    }
}

/// A whole number sent as a JSON number or as a numeric string (WSO2 clients send both).
struct FlexibleInt: Decodable, Sendable {
    let value: Int

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            value = number
        } else if let text = try? container.decode(String.self), let number = Int(text) {
            value = number
        } else {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a whole number"))
        }
    }
}

/// OAuth2 scopes (RFC 6749 §3.3): space-separated tokens of printable ASCII without `"` and `\`.
/// Portico grants what is asked for; without a request the scope is `default`.
enum OAuthScope {
    static func isValidToken(_ token: Substring) -> Bool {
        !token.isEmpty && token.unicodeScalars.allSatisfy { $0 == "!" || (0x23...0x5B).contains($0.value) || (0x5D...0x7E).contains($0.value) }
    }

    /// The granted scope string; throws the field error when a scope token is malformed.
    static func normalise(_ requested: String?, field: String) throws -> String {
        let tokens = (requested ?? "").split(separator: " ")
        if let bad = tokens.first(where: { !isValidToken($0) }) {
            throw APIError.invalidField(field, "'\(bad)' is not a valid scope")
        }
        return tokens.isEmpty ? "default" : tokens.joined(separator: " ")
    }

    static func list(_ scope: String) -> [String] { scope.split(separator: " ").map(String.init) }
}
