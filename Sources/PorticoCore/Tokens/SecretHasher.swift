import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing of passwords and client secrets, on the thread pool: a hash takes tens of
/// milliseconds and must never hold an event loop.
public struct SecretHasher: Sendable {
    public let cost: Int

    public init(cost: Int) {
        self.cost = cost
    }

    public func hash(_ secret: String) async throws -> String {
        let cost = UInt8(self.cost)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(secret, cost: cost) }
    }

    public func verify(_ secret: String, against hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(secret, hash: hash) }
    }

    /// A hash that nothing matches: verified when the account is unknown, so that an unknown
    /// name and a wrong secret take the same time.
    public static let decoyHash = Bcrypt.hash("portico-decoy-secret", cost: 10)
}
