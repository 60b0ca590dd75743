import Crypto
import Foundation
import NIOConcurrencyHelpers
import PorticoCore

/// Who may call the connection management API: a connection key of the snapshot
/// (`Authorization: Bearer pck_<id>_<secret>`). The secret is checked with bcrypt once; a match is
/// remembered (an HMAC of the secret under a key of this process, never the secret) with the hash
/// it matched, so that a backend pushing many messages pays bcrypt once per key and process. A key
/// revoked is gone from the next snapshot, and its remembered match with it: the catalog is read
/// first. Failures are limited per source address (`FailureLimiter`) before any bcrypt runs.
final class ConnectionKeyCheck: Sendable {
    enum Outcome: Equatable {
        /// The key's id and the API it opens.
        case key(id: String, apiID: String)
        case missing
        case invalid
        /// Too many failures from this address: wait this many seconds.
        case lockedOut(retryAfter: Int)
    }

    private struct Remembered {
        let secretHash: String
        let digest: Data
    }

    private let hasher: SecretHasher
    private let failures = FailureLimiter(maxFailures: 10, window: 60)
    private let memoryKey = SymmetricKey(size: .bits256)
    private let remembered = NIOLockedValueBox<[String: Remembered]>([:])
    static let capacity = 10_000

    init(hasher: SecretHasher) {
        self.hasher = hasher
    }

    /// Checks the `Authorization` header's key against `keys` (the snapshot's connection keys).
    func check(authorization: String?, keys: [String: GatewayCatalog.ConnectionKey], address: String) async throws -> Outcome {
        guard let authorization else { return .missing }
        if let wait = await failures.retryAfter(address) { return .lockedOut(retryAfter: wait) }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", let (id, secret) = ConnectionKey.parse(String(parts[1])),
            let key = keys[id]
        else {
            await failures.recordFailure(address)
            return .invalid
        }
        let digest = Data(HMAC<SHA256>.authenticationCode(for: Data(secret.utf8), using: memoryKey))
        if let known = remembered.withLockedValue({ $0[id] }), known.secretHash == key.secretHash,
            constantTimeEqual(known.digest, digest)
        {
            return .key(id: id, apiID: key.apiID)
        }
        guard try await hasher.verify(secret, against: key.secretHash) else {
            await failures.recordFailure(address)
            return .invalid
        }
        remembered.withLockedValue { map in
            if map.count >= Self.capacity { map.removeAll(keepingCapacity: true) }
            map[id] = Remembered(secretHash: key.secretHash, digest: digest)
        }
        return .key(id: id, apiID: key.apiID)
    }

    private func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
