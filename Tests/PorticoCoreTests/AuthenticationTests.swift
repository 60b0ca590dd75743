import Foundation
import NIOConcurrencyHelpers
import PorticoTestSupport
import Testing

@testable import PorticoCore

/// Bounded bcrypt work: the pool's queue limit, the credential cache and the failure limits.
@Suite struct AuthenticationTests {
    /// With one worker and a queue of one, a third concurrent bcrypt is refused at once with 503 and
    /// `Retry-After`; the two admitted ones complete; the pool is free again afterwards.
    @Test func aFullPoolAnswers503() async throws {
        let pool = BcryptPool(workers: 1, queueLimit: 1)
        let release = NIOLockedValueBox(false)
        let slow: @Sendable () -> Int = {
            while !release.withLockedValue({ $0 }) { usleep(1000) }
            return 1
        }
        async let first = pool.run(slow)
        async let second = pool.run(slow)
        #expect(await eventually(within: 5) { pool.load == (1, 1) })
        await #expect(throws: APIError.self) { try await pool.run { 0 } }
        do {
            _ = try await pool.run { 0 }
        } catch let error as APIError {
            #expect(error.status == .serviceUnavailable && error.headers[.retryAfter] == "1")
        }
        release.withLockedValue { $0 = true }
        #expect(try await first + second == 2)
        #expect(pool.load == (0, 0))
        #expect(try await pool.run { 3 } == 3)
    }

    static func settings(cacheSeconds: Int = 60, perUser: Int = 3, perAddress: Int = 5) throws -> CoreSettings {
        try CoreSettings(
            source: SettingsSource(values: [
                "PORTICO_AUTH_CACHE_SECONDS": "\(cacheSeconds)", "PORTICO_AUTH_MAX_FAILURES": "\(perUser)",
                "PORTICO_AUTH_MAX_FAILURES_PER_ADDRESS": "\(perAddress)",
            ])
        )
    }

    /// A legitimate caller pays one bcrypt, then is answered from the cache; a wrong password is
    /// never answered from it; the cache holds a keyed hash, not the password.
    @Test func verifiedCredentialsAreRemembered() async throws {
        try await TestDatabase.withMigratedDatabase { database in
            let pool = BcryptPool(workers: 2, queueLimit: 8)
            let users = UserStore(database: database, hasher: SecretHasher(cost: 4, pool: pool))
            _ = try await users.create(username: "carol", password: "carol-password", email: nil, roles: [.creator])
            let authenticator = Authenticator(users: users, settings: try Self.settings())
            let before = pool.completed
            for _ in 0..<5 {
                #expect(try await authenticator.authenticate(username: "carol", password: "carol-password", address: "10.0.0.1").username == "carol")
            }
            #expect(pool.completed - before == 1, "one bcrypt for five calls")
            await #expect(throws: APIError.self) { try await authenticator.authenticate(username: "carol", password: "wrong", address: nil) }
            #expect(pool.completed - before == 2)

            let uncached = Authenticator(users: users, settings: try Self.settings(cacheSeconds: 0))
            for _ in 0..<3 { _ = try await uncached.authenticate(username: "carol", password: "carol-password", address: nil) }
            #expect(pool.completed - before == 5, "PORTICO_AUTH_CACHE_SECONDS=0 turns the cache off")

            // 3 s, not 1: on a loaded machine two calls in a row can be a second apart.
            let short = Authenticator(users: users, settings: try Self.settings(cacheSeconds: 3))
            _ = try await short.authenticate(username: "carol", password: "carol-password", address: nil)
            _ = try await short.authenticate(username: "carol", password: "carol-password", address: nil)
            #expect(pool.completed - before == 6, "remembered…")
            await pause(.milliseconds(3100))
            _ = try await short.authenticate(username: "carol", password: "carol-password", address: nil)
            #expect(pool.completed - before == 7, "…for PORTICO_AUTH_CACHE_SECONDS, then checked again")
        }
    }

    /// Past the limit for a user name, or for an address, the answer is 429 with `Retry-After`
    /// and no bcrypt runs; another name from another address still gets through.
    @Test func repeatedFailuresAreRefusedWithoutABcrypt() async throws {
        try await TestDatabase.withMigratedDatabase { database in
            let pool = BcryptPool(workers: 2, queueLimit: 8)
            let users = UserStore(database: database, hasher: SecretHasher(cost: 4, pool: pool))
            _ = try await users.create(username: "carol", password: "carol-password", email: nil, roles: [.creator])
            _ = try await users.create(username: "dave", password: "dave-password", email: nil, roles: [.creator])
            let authenticator = Authenticator(users: users, settings: try Self.settings(perUser: 3, perAddress: 5))
            func status(_ name: String, _ password: String, _ address: String) async -> Int {
                do {
                    _ = try await authenticator.authenticate(username: name, password: password, address: address)
                    return 200
                } catch let error as APIError {
                    return error.status.code
                } catch {
                    return 0
                }
            }
            for index in 0..<3 { #expect(await status("carol", "guess-\(index)", "10.0.0.\(index)") == 401) }
            let bcrypts = pool.completed
            #expect(await status("carol", "carol-password", "10.0.0.9") == 429, "the name is locked, even with the right password")
            #expect(await status("CAROL", "guess", "10.0.0.9") == 429, "names compare case-insensitively")
            #expect(pool.completed == bcrypts, "no bcrypt for a locked name")
            for index in 0..<4 { #expect(await status("nobody-\(index)", "guess", "10.0.0.1") == 401) }
            #expect(await status("dave", "dave-password", "10.0.0.1") == 429, "10.0.0.1 has had 5 failures")
            #expect(await status("dave", "dave-password", "10.0.0.2") == 200)
        }
    }
}
