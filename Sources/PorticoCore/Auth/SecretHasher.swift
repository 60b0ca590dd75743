import HummingbirdBcrypt

/// bcrypt hashing of passwords and client secrets, in a bounded pool (`BcryptPool`): a hash takes
/// tens of milliseconds and must never hold an event loop, nor queue without bound.
package struct SecretHasher: Sendable {
    package let cost: Int
    package let pool: BcryptPool

    package init(cost: Int, pool: BcryptPool) {
        self.cost = cost
        self.pool = pool
    }

    package func hash(_ secret: String) async throws -> String {
        let cost = UInt8(self.cost)
        return try await pool.run { Bcrypt.hash(secret, cost: cost) }
    }

    package func verify(_ secret: String, against hash: String) async throws -> Bool {
        try await pool.run { Bcrypt.verify(secret, hash: hash) }
    }

    /// A hash that nothing matches: verified when the account is unknown, so that an unknown
    /// name and a wrong secret take the same time.
    package static let decoyHash = Bcrypt.hash("portico-decoy-secret", cost: 10)
}
