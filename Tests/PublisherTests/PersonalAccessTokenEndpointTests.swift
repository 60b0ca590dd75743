import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import Testing

@testable import publisher

/// `/me/personal-access-tokens`: a user makes a token with their password, then signs in with the token
/// alone; deleting it revokes it.
@Suite struct PersonalAccessTokenEndpointTests {
    @Test func aTokenSignsInInsteadOfThePasswordUntilRevoked() async throws {
        try await PublisherHarness.run { admin in
            let made = try await admin.send(.post, "me/personal-access-tokens", json: #"{"name":"laptop","validityDays":7}"#)
            #expect(made.status == .created, "\(made.text)")
            #expect(made.headers[.cacheControl] == "no-store")
            let token = try #require(made["token"].string)
            let id = try #require(made["id"].string)
            #expect(PersonalAccessToken.parse(token)?.id == id)

            let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
            let anonymous = admin.signedIn(nil)
            #expect(try await anonymous.send(.get, "apis", headers: bearer).status == .ok, "the token alone signs in")
            let listed = try await anonymous.send(.get, "me/personal-access-tokens", headers: bearer)
            #expect(listed["count"] == 1 && listed["list"][0]["name"] == "laptop" && !listed.text.contains(token))

            let forged: HTTPFields = [.authorization: "Bearer \(token.dropLast(3))abc"]
            try await anonymous.send(.get, "apis", headers: forged).expectError(.unauthorized, mentioning: "access token")
            try await admin.send(.post, "me/personal-access-tokens", json: #"{"validityDays":366}"#).expectError(
                .badRequest,
                mentioning: "'validityDays'"
            )

            #expect(try await anonymous.send(.delete, "me/personal-access-tokens/\(id)", headers: bearer).status == .noContent)
            try await anonymous.send(.get, "apis", headers: bearer).expectError(.unauthorized)
            try await admin.send(.delete, "me/personal-access-tokens/\(id)").expectError(.notFound, mentioning: "access token")
        }
    }
}
