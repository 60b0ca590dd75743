import CryptoExtras
import Foundation
import JWTKit
import Logging
import PostgresNIO

/// The RS256 keys that sign access tokens. One is active; retired ones stay published in the JWKS
/// until every token they signed has expired. Private halves are stored AES-GCM encrypted.
package struct SigningKeyStore: Sendable {
    package let database: Database
    let box: SecretBox
    /// The longest a token can live: a retired key stays published this long.
    package let maxTokenLifetime: Duration

    /// Serialises key creation and rotation across processes ("portico:signing").
    static let lockKey: Int64 = 0x7369_676e

    package struct PublishedKey: Sendable {
        package let kid: String
        package let publicKey: JWTKit.Insecure.RSA.PublicKey
    }

    package init(database: Database, box: SecretBox, maxTokenLifetime: Duration) {
        self.database = database
        self.box = box
        self.maxTokenLifetime = maxTokenLifetime
    }

    private var logger: Logger { database.logger }

    /// Creates the first key when there is none; returns the active key id.
    @discardableResult
    package func ensureActiveKey() async throws -> String {
        try await database.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
            if let kid = try await activeKid(on: connection) { return kid }
            return try await insertNewKey(on: connection)
        }
    }

    /// Makes a new key active and retires the previous one; returns (new, retired) key ids.
    package func rotate() async throws -> (active: String, retired: String?) {
        try await database.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
            let previous = try await activeKid(on: connection)
            let seconds = Int(maxTokenLifetime.components.seconds)
            try await connection.query(
                """
                UPDATE signing_keys SET retired_at = now(), publish_until = now() + make_interval(secs => \(seconds))
                WHERE retired_at IS NULL
                """,
                logger: logger
            )
            let kid = try await insertNewKey(on: connection)
            return (kid, previous)
        }
    }

    /// The active key, decrypted.
    package func activeKey() async throws -> (kid: String, key: JWTKit.Insecure.RSA.PrivateKey) {
        let rows = try await database.client.query(
            "SELECT kid, private_key_encrypted FROM signing_keys WHERE retired_at IS NULL",
            logger: logger
        )
        for try await (kid, sealed) in rows.decode((String, ByteBuffer).self) {
            let pem = try box.open(Data(sealed.readableBytesView))
            return (kid, try JWTKit.Insecure.RSA.PrivateKey(pem: pem))
        }
        throw APIError(.serviceUnavailable, "Service Unavailable", "No active signing key; restart the devportal to create one")
    }

    /// Every key whose tokens may still be valid: the active one and recently retired ones.
    package func publishedKeys() async throws -> [PublishedKey] {
        var keys: [PublishedKey] = []
        let rows = try await database.client.query(
            """
            SELECT kid, public_key_pem FROM signing_keys
            WHERE retired_at IS NULL OR publish_until > now() ORDER BY created_at DESC
            """,
            logger: logger
        )
        for try await (kid, pem) in rows.decode((String, String).self) {
            keys.append(PublishedKey(kid: kid, publicKey: try JWTKit.Insecure.RSA.PublicKey(pem: pem)))
        }
        return keys
    }

    private func activeKid(on connection: PostgresConnection) async throws -> String? {
        for try await kid in try await connection.query(
            "SELECT kid FROM signing_keys WHERE retired_at IS NULL",
            logger: logger
        ).decode(String.self) {
            return kid
        }
        return nil
    }

    private func insertNewKey(on connection: PostgresConnection) async throws -> String {
        let backing = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let kid = Data.random(count: 12).base64URLEncoded
        let sealed = try box.seal(Data(backing.pemRepresentation.utf8))
        try await connection.query(
            """
            INSERT INTO signing_keys (kid, public_key_pem, private_key_encrypted)
            VALUES (\(kid), \(backing.publicKey.pemRepresentation), \(ByteBuffer(bytes: sealed)))
            """,
            logger: logger
        )
        try await ChangeNotifier.announce(Change(entity: .signingKey, action: .created, id: kid), on: connection, logger: logger)
        return kid
    }
}

/// The JSON Web Key Set (RFC 7517) of the published signing keys.
package struct JSONWebKeySet: Codable, Sendable, Equatable {
    package struct Key: Codable, Sendable, Equatable {
        package var kty = "RSA"
        package var use = "sig"
        package var alg = "RS256"
        package var kid: String
        package var n: String
        package var e: String
    }

    package var keys: [Key]

    package init(_ published: [SigningKeyStore.PublishedKey]) throws {
        keys = try published.map { key in
            let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
            return Key(kid: key.kid, n: modulus.base64URLEncoded, e: exponent.base64URLEncoded)
        }
    }
}
