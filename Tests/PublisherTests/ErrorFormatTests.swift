import Foundation
import Hummingbird
import Testing

@testable import publisher

@Suite struct ErrorFormatTests {
    @Test func malformedJSONIsA400ThatSaysSo() async throws {
        try await PublisherHarness.run { client in
            try await client.send(.post, "apis", json: #"{"name": "#).expectError(.badRequest, mentioning: "Malformed JSON")
            try await client.send(.post, "apis", json: "").expectError(.badRequest, mentioning: "empty")
            try await client.send(.post, "apis", json: "[1,2]").expectError(.badRequest)
        }
    }

    @Test func nonJSONBodiesAre415() async throws {
        try await PublisherHarness.run { client in
            try await client.send(.post, "apis", json: "name=x", headers: [.contentType: "application/x-www-form-urlencoded"])
                .expectError(.unsupportedMediaType, mentioning: "application/json")
            #expect(
                try await client.send(.post, "apis", json: "{}", headers: [.contentType: "application/json; charset=utf-8"]).status == .badRequest,
                "JSON with a charset is JSON"
            )
        }
    }

    @Test func bodiesOverTheLimitAre413() async throws {
        try await PublisherHarness.run { client in
            let big = #"{"name":"x","description":""# + String(repeating: "a", count: PublisherHarness.maxBodyBytes) + #""}"#
            try await client.send(.post, "apis", json: big).expectError(.contentTooLarge, mentioning: "\(PublisherHarness.maxBodyBytes) bytes")
        }
    }

    @Test func unknownRoutesAreJSON404s() async throws {
        try await PublisherHarness.run { client in
            try await client.send(.get, "nothing-here").expectError(.notFound, mentioning: "/api/am/publisher/v4/nothing-here")
            try await client.signedIn(nil).send(.get, "/elsewhere").expectError(.notFound)
        }
    }
}
