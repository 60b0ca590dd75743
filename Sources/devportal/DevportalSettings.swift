import Foundation
import PorticoCore

/// The devportal's settings: the shared core settings plus accounts and tokens (the gateway's
/// public address is a core setting: `CoreSettings.gateway`).
struct DevportalSettings: Sendable {
    var core: CoreSettings
    /// `DEVPORTAL_PORT` (default 9081).
    var port: Int
    var migrationsDirectory: String?
    /// `PORTICO_SIGNUP_ENABLED` (default true): anyone may create a subscriber account.
    var signupEnabled: Bool
    /// `DEVPORTAL_PUBLIC_URL` (default http://localhost:9081): the token issuer (`iss`) and the base
    /// of the OAuth2 endpoints in the authorization server metadata.
    var publicURL: String
    /// `PORTICO_TOKEN_AUDIENCE` (default portico-gateway): the `aud` of every access token.
    var tokenAudience: String
    /// `PORTICO_TOKEN_VALIDITY` (default 3600): seconds a token lives unless the request says otherwise.
    var defaultTokenValidity: Int
    /// `PORTICO_TOKEN_MAX_VALIDITY` (default 86400): the longest lifetime a request may ask for.
    var maxTokenValidity: Int
    /// `PORTICO_SECRET_KEY`: encrypts the signing keys' private halves.
    var secretBox: SecretBox

    init(source: SettingsSource) throws {
        core = try CoreSettings(source: source)
        port = try source.port("DEVPORTAL_PORT", default: 9081)
        migrationsDirectory = source.string("PORTICO_MIGRATIONS_DIR")
        signupEnabled = try source.bool("PORTICO_SIGNUP_ENABLED", default: true)
        publicURL = source.string("DEVPORTAL_PUBLIC_URL", default: "http://localhost:9081")
        guard let url = URLComponents(string: publicURL), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false,
            !publicURL.hasSuffix("/")
        else {
            throw InvalidSetting(key: "DEVPORTAL_PUBLIC_URL", reason: "'\(publicURL)' is not an http(s) URL with a host and no trailing '/'")
        }
        tokenAudience = source.string("PORTICO_TOKEN_AUDIENCE", default: "portico-gateway")
        maxTokenValidity = try source.int("PORTICO_TOKEN_MAX_VALIDITY", default: 86_400, range: 60...31_536_000)
        defaultTokenValidity = try source.int("PORTICO_TOKEN_VALIDITY", default: 3600, range: 60...31_536_000)
        guard defaultTokenValidity <= maxTokenValidity else {
            throw InvalidSetting(
                key: "PORTICO_TOKEN_VALIDITY",
                reason: "\(defaultTokenValidity) is above PORTICO_TOKEN_MAX_VALIDITY (\(maxTokenValidity))"
            )
        }
        secretBox = try SecretBox.load(from: source, developmentMode: core.developmentMode)
    }
}
