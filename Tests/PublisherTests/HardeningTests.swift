import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import Testing

@testable import publisher

/// What an outside security test found in the publisher, pinned on the real router and PostgreSQL.
@Suite struct PublisherHardeningTests {
    /// Pagination cannot overflow: offsets and limits at and past every extreme answer 200 or a 400
    /// naming the parameter, never a crash (an offset of Int.max used to stop the process).
    @Test func pagesCannotOverflow() async throws {
        try await PublisherHarness.run { client in
            #expect(try await client.createAPI().status == .created)
            let extremes = [
                "0", "1", "999", "1000", "1001", "10000000", "10000001", "9223372036854775807", "9223372036854775808",
                "-1", "-9223372036854775808", "1e3", "", "%00",
            ]
            var generator = SystemRandomNumberGenerator()
            var pairs = extremes.flatMap { offset in ["25", "1000", "1"].map { (offset, $0) } } + extremes.map { ("0", $0) }
            pairs += (0..<40).map { _ in
                (String(Int.random(in: Int.min...Int.max, using: &generator)), String(Int.random(in: -5...2000, using: &generator)))
            }
            for (offset, limit) in pairs {
                let reply = try await client.send(.get, "apis?offset=\(offset)&limit=\(limit)")
                if reply.status == .ok {
                    let pagination = try #require(reply["pagination"].orNil, "\(reply.text)")
                    #expect((pagination["offset"].int ?? -1) <= PageRequest.maxOffset)
                } else {
                    reply.expectError(.badRequest)
                    #expect(reply.text.contains("'offset'") || reply.text.contains("'limit'"), "offset \(offset), limit \(limit): \(reply.text)")
                }
            }
            let last = try await client.send(.get, "apis?offset=\(PageRequest.maxOffset)&limit=\(PageRequest.maxLimit)")
            #expect(last.status == .ok && last["count"].int == 0, "\(last.text)")
        }
    }

    /// Every text field of every JSON body the publisher and admin APIs accept refuses a control
    /// character with a 400 naming the field, before anything reaches PostgreSQL (a NUL used to be a 500).
    @Test func controlCharactersInAnyJSONTextAreRefusedByField() async throws {
        try await PublisherHarness.run { client in
            let created = try await client.createAPI(json: #"{"description":"An echo"}"#)
            let apiID = created.id
            let plan =
                #"{"policyName":"Platinum","displayName":"Platinum","description":"Big","defaultLimit":{"type":"EVENTCOUNTLIMIT","eventCount":{"timeUnit":"min","unitTime":1,"eventCount":1000}},"subscriberCount":5,"excessAction":"drop","countedDirections":"both"}"#
            let planID = try #require(try await client.send(.post, RESTClient.subscriptionPlans, json: plan)["policyId"].string)
            let api =
                #"{"name":"EchoWebSocket","context":"/echowebsocket","version":"1.0.0","type":"WS","description":"An echo","policies":["Gold","Silver"],"endpointConfig":{"endpoint_type":"ws","production_endpoints":{"url":"ws://127.0.0.1:9100"},"sandbox_endpoints":{"url":"ws://127.0.0.1:9100"}},"limits":{"allowedOrigins":["https://app.example.com"]},"isDefaultVersion":true,"visibility":"PUBLIC"}"#
            let bodies: [(HTTPRequest.Method, String, String)] = [
                (.post, "apis", api),
                (.put, "apis/\(apiID)", api),
                (
                    .post, "/api/am/admin/v4/users",
                    #"{"username":"carol","password":"a-long-password","email":"carol@example.com","roles":["creator"]}"#
                ),
                (.post, RESTClient.subscriptionPlans, plan),
                (.put, "\(RESTClient.subscriptionPlans)/\(planID)", plan),
            ]
            for (method, path, body) in bodies {
                try await client.expectControlCharactersRefused(method, path, body: body)
            }
            // A repeated member: decoders keep different ones, the check reads every one.
            for repeated in [
                #"{"name":"Echo\u0000","name":"EchoWebSocket2","context":"/echo2","version":"1"}"#,
                #"{"name":"EchoWebSocket2","name":"Echo\u0000","context":"/echo2","version":"1"}"#,
                #"{"description":"ok","description":"a\u007Fb","name":"E3","context":"/e3","version":"1"}"#,
            ] {
                try await client.send(.post, "apis", json: repeated).expectError(.badRequest, mentioning: "control character")
            }
            #expect(try await client.send(.get, "apis/\(apiID)")["description"].string == "An echo", "nothing was changed")
        }
    }

    /// Query parameters, the path and Basic credentials with a control character: 400 naming the
    /// parameter, 400 for the path, 401 for credentials — never a 500.
    @Test func controlCharactersElsewhereAreRefused() async throws {
        try await PublisherHarness.run { client in
            for scalar in ControlCharacters.refused {
                let encoded = String(scalar).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                try await client.send(.get, "apis?query=echo\(encoded)").expectError(.badRequest, mentioning: "'query'", "control character")
                try await client.send(.get, "apis/\(encoded)").expectError(.badRequest, mentioning: "path")
                try await client.send(.get, "subscriptions?apiId=\(encoded)").expectError(.badRequest, mentioning: "'apiId'")
                try await client.signedIn("admin\(String(scalar))", TestSettings.adminPassword).send(.get, "apis")
                    .expectError(.unauthorized)
                try await client.signedIn("admin", "pass\(String(scalar))word").send(.get, "apis").expectError(.unauthorized)
            }
        }
    }

    /// Unmatched paths are counted as `http_route="NotFound"`, as docs/operations.md says.
    @Test func unmatchedPathsAreCountedAsNotFound() async throws {
        try await PublisherHarness.run { client in
            try await client.send(.get, "/no/such/path").expectError(.notFound)
            let metrics = try await client.send(.get, "/metrics").text
            #expect(metrics.contains(#"http_route="NotFound""#), "\(metrics.prefix(2000))")
        }
    }

    /// Wrong passwords for one user name are answered 429 with `Retry-After` after the limit,
    /// without a bcrypt; the right password of another user still works.
    @Test func repeatedWrongPasswordsAreSlowedDown() async throws {
        try await PublisherHarness.run { client in
            _ = try await client.user("carol", roles: ["creator"])
            let guesser = client.signedIn("carol", "wrong-password")
            for _ in 0..<10 { try await guesser.send(.get, "apis").expectError(.unauthorized) }
            let refused = try await guesser.send(.get, "apis")
            refused.expectError(.tooManyRequests, mentioning: "user name")
            #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 >= 1)
            try await client.signedIn("carol").send(.get, "apis").expectError(.tooManyRequests)
            #expect(try await client.send(.get, "apis").status == .ok, "admin is not locked out")
        }
    }
}
