import Crypto
import Foundation
import Synchronization

/// Checks a user's name and password for the REST services, so that a bcrypt is neither paid on
/// every call of a legitimate caller nor available without bound to a guesser:
/// - verified credentials are remembered for `cacheSeconds` under an HMAC of name and password
///   with a key made at start and never stored (the password itself is never kept);
/// - failures are counted per user name and per client address, and past the limits that name or
///   address gets 429 with `Retry-After` without a bcrypt (`FailureLimiter`);
/// - the bcrypt itself runs in the bounded `BcryptPool` (503 when it is full).
package final class Authenticator: Sendable {
    package let users: UserStore
    package let tokens: PersonalAccessTokenStore
    let cacheDuration: Duration
    let byName: FailureLimiter
    let byAddress: FailureLimiter
    private let cacheKey = SymmetricKey(size: .bits256)
    private let cache = Mutex<[Data: Remembered]>([:])
    static let cacheCapacity = 10_000

    struct Remembered {
        let user: User
        let until: ContinuousClock.Instant
        /// The access token's id, for what was remembered of a token.
        var tokenID: String? = nil
    }

    package init(users: UserStore, settings: CoreSettings) {
        self.users = users
        tokens = PersonalAccessTokenStore(database: users.database, hasher: users.hasher)
        cacheDuration = .seconds(settings.authCacheSeconds)
        byName = FailureLimiter(maxFailures: settings.authMaxFailuresPerUser, window: 60)
        byAddress = FailureLimiter(maxFailures: settings.authMaxFailuresPerAddress, window: 60)
    }

    /// The user these credentials belong to; otherwise a 401, a 429 (too many failures for the
    /// name or the address) or a 503 (too many password checks waiting).
    package func authenticate(username: String, password: String, address: String?) async throws -> User {
        // User names are ASCII (User.validatedCredentials): any other is nobody's, and must not get a
        // limiter key of its own that PostgreSQL's lower() would still match to a user.
        guard username.utf8.allSatisfy({ $0 < 0x80 }) else { throw APIError.unauthorized("Unknown user or wrong password") }
        let name = username.lowercased()
        let key = Data(HMAC<SHA256>.authenticationCode(for: Data("\(name)\u{0}\(password)".utf8), using: cacheKey))
        let now = ContinuousClock.now
        if cacheDuration > .zero, let user = remembered(key, now: now) { return user }
        if let wait = await byName.retryAfter(name) { throw Self.tooMany(wait, "this user name") }
        if let address, let wait = await byAddress.retryAfter(address) { throw Self.tooMany(wait, "this address") }
        guard let user = try await users.authenticate(username: username, password: password) else {
            await byName.recordFailure(name)
            if let address { await byAddress.recordFailure(address) }
            throw APIError.unauthorized("Unknown user or wrong password")
        }
        await byName.reset(name)
        remember(user, under: key, now: now)
        return user
    }

    /// The user a personal access token (`pat_…`) belongs to; otherwise a 401, a 429 (too many
    /// failures from the address) or a 503. Remembered as credentials are, for `cacheSeconds`: a
    /// token deleted through one service is refused there at once, and by the other service within
    /// that time.
    package func authenticate(token presented: String, address: String?) async throws -> User {
        let key = Data(HMAC<SHA256>.authenticationCode(for: Data("token\u{0}\(presented)".utf8), using: cacheKey))
        let now = ContinuousClock.now
        if cacheDuration > .zero, let user = remembered(key, now: now) { return user }
        if let address, let wait = await byAddress.retryAfter(address) { throw Self.tooMany(wait, "this address") }
        guard let user = try await tokens.user(presenting: presented) else {
            if let address { await byAddress.recordFailure(address) }
            throw APIError.unauthorized("Unknown, expired or revoked access token")
        }
        remember(user, under: key, now: now, tokenID: PersonalAccessToken.parse(presented)?.id)
        return user
    }

    /// Forgets what was remembered of access token `id` (revoked here: refused here at once).
    package func forget(tokenID id: String) {
        cache.withLock { cache in cache = cache.filter { $0.value.tokenID != id } }
    }

    private func remembered(_ key: Data, now: ContinuousClock.Instant) -> User? {
        cache.withLock { cache -> User? in
            guard let entry = cache[key] else { return nil }
            guard entry.until > now else {
                cache[key] = nil
                return nil
            }
            return entry.user
        }
    }

    private func remember(_ user: User, under key: Data, now: ContinuousClock.Instant, tokenID: String? = nil) {
        guard cacheDuration > .zero else { return }
        cache.withLock { cache in
            if cache.count >= Self.cacheCapacity {
                cache = cache.filter { $0.value.until > now }
                if cache.count >= Self.cacheCapacity { cache.removeAll() }
            }
            cache[key] = Remembered(user: user, until: now + cacheDuration, tokenID: tokenID)
        }
    }

    static func tooMany(_ seconds: Int, _ what: String) -> APIError {
        APIError(
            .tooManyRequests,
            "Too Many Requests",
            "Too many failed sign-ins for \(what); retry in \(seconds) s",
            headers: [.retryAfter: "\(seconds)"]
        )
    }
}
