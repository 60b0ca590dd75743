import HummingbirdBcrypt

/// bcrypt hashing of passwords and client secrets, in a bounded pool (`BcryptPool`): a hash takes
/// tens of milliseconds and must never hold an event loop, nor queue without bound.
public struct SecretHasher: Sendable {
    public let cost: Int
    public let pool: BcryptPool

    public init(cost: Int, pool: BcryptPool) {
        self.cost = cost
        self.pool = pool
    }

    public func hash(_ secret: String) async throws -> String {
        let cost = UInt8(self.cost)
        return try await pool.run { Bcrypt.hash(secret, cost: cost) }
    }

    public func verify(_ secret: String, against hash: String) async throws -> Bool {
        try await pool.run { Bcrypt.verify(secret, hash: hash) }
    }

    /// A hash that nothing matches: verified when the account is unknown, so that an unknown
    /// name and a wrong secret take the same time.
    public static let decoyHash = Bcrypt.hash("portico-decoy-secret", cost: 10)
}
