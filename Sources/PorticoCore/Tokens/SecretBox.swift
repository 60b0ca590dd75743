import Crypto
import Foundation

/// Encrypts what must be stored secret (signing keys' private halves) with AES-256-GCM under the
/// key from `PORTICO_SECRET_KEY`.
package struct SecretBox: Sendable {
    let key: SymmetricKey

    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    /// `base64` must decode to exactly 32 bytes (`openssl rand -base64 32`).
    package init(base64: String) throws {
        guard let data = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32 else {
            throw Failure(description: "expected 32 random bytes in base64 (make one with: openssl rand -base64 32)")
        }
        key = SymmetricKey(data: data)
    }

    package static func randomKeyBase64() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    package func seal(_ plaintext: Data) throws -> Data {
        guard let combined = try AES.GCM.seal(plaintext, using: key).combined else {
            throw Failure(description: "AES-GCM produced no combined representation")
        }
        return combined
    }

    package func open(_ sealed: Data) throws -> Data {
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key)
        } catch {
            throw Failure(description: "cannot decrypt a stored secret: PORTICO_SECRET_KEY is not the key it was encrypted with")
        }
    }

    /// The secret key from settings: `PORTICO_SECRET_KEY`, else (development mode only) a key kept
    /// in `PORTICO_SECRET_KEY_FILE` (default `.data/secret.key`), created on first use.
    package static func load(from source: SettingsSource, developmentMode: Bool) throws -> SecretBox {
        if let value = source.string("PORTICO_SECRET_KEY") {
            do {
                return try SecretBox(base64: value)
            } catch let failure as Failure {
                throw InvalidSetting(key: "PORTICO_SECRET_KEY", reason: failure.description)
            }
        }
        guard developmentMode else {
            throw InvalidSetting(
                key: "PORTICO_SECRET_KEY",
                reason: "not set; it encrypts the token signing keys (make one with: openssl rand -base64 32)"
            )
        }
        let path = source.string("PORTICO_SECRET_KEY_FILE", default: ".data/secret.key")
        let url = URL(fileURLWithPath: path)
        if let existing = try? String(contentsOf: url, encoding: .utf8) {
            do {
                return try SecretBox(base64: existing)
            } catch let failure as Failure {
                throw InvalidSetting(key: "PORTICO_SECRET_KEY_FILE", reason: "\(path): \(failure.description)")
            }
        }
        let fresh = randomKeyBase64()
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path, contents: Data((fresh + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw Failure(description: "cannot write")
            }
        } catch {
            throw InvalidSetting(key: "PORTICO_SECRET_KEY_FILE", reason: "cannot create \(path): \(error)")
        }
        return try SecretBox(base64: fresh)
    }
}

extension Data {
    /// base64url without padding (RFC 7515 §2).
    package var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes base64url exactly as JWS writes it (RFC 7515 §2, RFC 4648 §5): the url-safe alphabet
    /// only, no padding, no white space, and unused trailing bits zero — so that every byte string
    /// has exactly one spelling (`+`, `/`, `=` and a changed last symbol are refused).
    /// Byte by byte: the gateway decodes three of these per handshake, and Foundation's string
    /// replacing on Linux cost more than the RSA verification (measured with `perf`).
    package init?(base64URLEncoded string: some StringProtocol) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(string.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in string.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = character - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            accumulator = (accumulator << 6 | UInt32(value)) & 0xFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // 6 leftover bits: a lone symbol (no byte); 2 or 4: they must be zero.
        guard bits < 6, accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        self.init(bytes)
    }

    /// `count` cryptographically random bytes.
    package static func random(count: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}
