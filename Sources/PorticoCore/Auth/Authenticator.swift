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
    let cacheDuration: Duration
    let byName: FailureLimiter
    let byAddress: FailureLimiter
    private let cacheKey = SymmetricKey(size: .bits256)
    private let cache = Mutex<[Data: Remembered]>([:])
    static let cacheCapacity = 10_000

    struct Remembered {
        let user: User
        let until: ContinuousClock.Instant
    }

    package init(users: UserStore, settings: CoreSettings) {
        self.users = users
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
        if cacheDuration > .zero,
            let user = cache.withLock({ cache -> User? in
                guard let entry = cache[key] else { return nil }
                guard entry.until > now else {
                    cache[key] = nil
                    return nil
                }
                return entry.user
            })
        {
            return user
        }
        if let wait = await byName.retryAfter(name) { throw Self.tooMany(wait, "this user name") }
        if let address, let wait = await byAddress.retryAfter(address) { throw Self.tooMany(wait, "this address") }
        guard let user = try await users.authenticate(username: username, password: password) else {
            await byName.recordFailure(name)
            if let address { await byAddress.recordFailure(address) }
            throw APIError.unauthorized("Unknown user or wrong password")
        }
        await byName.reset(name)
        if cacheDuration > .zero {
            cache.withLock { cache in
                if cache.count >= Self.cacheCapacity {
                    cache = cache.filter { $0.value.until > now }
                    if cache.count >= Self.cacheCapacity { cache.removeAll() }
                }
                cache[key] = Remembered(user: user, until: now + cacheDuration)
            }
        }
        return user
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
