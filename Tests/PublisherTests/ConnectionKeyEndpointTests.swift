import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import PostgresNIO
import Testing

@testable import publisher

/// `/apis/{apiId}/connection-keys`: issued with a secret shown once and stored as a bcrypt hash,
/// listed without it, revoked by DELETE; providers only.
@Suite struct ConnectionKeyEndpointTests {
    @Test func aKeyIsShownOnceStoredHashedListedAndRevoked() async throws {
        try await PublisherHarness.runWithDatabase { admin, database in
            let apiID = try await admin.createAPI().id
            let created = try await admin.send(.post, "apis/\(apiID)/connection-keys")
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created["id"].string)
            let secret = try #require(created["secret"].string)
            #expect(ConnectionKey.parse(secret)?.id == id, "pck_<id>_<secret>: \(secret)")
            #expect(created.headers[.location] == "/api/am/publisher/v4/apis/\(apiID)/connection-keys/\(id)")
            #expect(created.headers[.cacheControl] == "no-store")
            #expect(created["createdBy"] == "admin")

            let listed = try await admin.send(.get, "apis/\(apiID)/connection-keys")
            #expect(listed["count"] == 1 && listed["list"][0]["id"].string == id)
            #expect(!listed.text.contains("secret"), "the secret is shown only once")

            var hashes: [String] = []
            for try await hash in try await database.client.query("SELECT secret_hash FROM connection_keys", logger: TestDatabase.logger)
                .decode(String.self)
            {
                hashes.append(hash)
            }
            let stored = try #require(hashes.first)
            #expect(stored.hasPrefix("$2") && !stored.contains(ConnectionKey.parse(secret)!.secret), "only a bcrypt hash")

            #expect(try await admin.send(.delete, "apis/\(apiID)/connection-keys/\(id)").status == .noContent)
            try await admin.send(.delete, "apis/\(apiID)/connection-keys/\(id)").expectError(.notFound, mentioning: "connection key")
            #expect(try await admin.send(.get, "apis/\(apiID)/connection-keys")["count"] == 0)
        }
    }

    @Test func onlyProvidersManageKeysAndOnlyOfTheirAPI() async throws {
        try await PublisherHarness.run { admin in
            let apiID = try await admin.createAPI().id
            let otherID = try await admin.createAPI(["name": "Other", "context": "/other"]).id
            let key = try #require(try await admin.send(.post, "apis/\(apiID)/connection-keys")["id"].string)
            try await admin.send(.delete, "apis/\(otherID)/connection-keys/\(key)").expectError(.notFound)
            try await admin.send(.post, "apis/not-an-api/connection-keys").expectError(.notFound)
            let subscriber = try await admin.user("sam", roles: ["subscriber"])
            try await subscriber.send(.post, "apis/\(apiID)/connection-keys").expectError(.forbidden, mentioning: "connection keys")
            try await admin.signedIn(nil).send(.get, "apis/\(apiID)/connection-keys").expectError(.unauthorized)
        }
    }
}
