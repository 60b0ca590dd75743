import Foundation
import Hummingbird
import Testing

@testable import publisher

@Suite struct AuthorizationTests {
    @Test func missingOrWrongCredentialsAre401WithAChallenge() async throws {
        try await PublisherHarness.run { client in
            for reply in [
                try await client.signedIn(nil).send(.get, "apis"),
                try await client.signedIn("admin", "wrong").send(.get, "apis"),
                try await client.signedIn("nobody", "password-1").send(.get, "apis"),
                try await client.signedIn(nil).send(.get, "apis", headers: [.authorization: "Basic !!!"]),
                try await client.signedIn(nil).send(.get, "apis", headers: [.authorization: "Bearer abc"]),
                try await client.signedIn(nil).send(.get, "/api/am/admin/v4/users"),
            ] {
                reply.expectError(.unauthorized)
                #expect(reply.headers[.wwwAuthenticate] == #"Basic realm="portico", charset="UTF-8""#)
            }
        }
    }

    @Test func rolesDecideWhoMayDoWhat() async throws {
        try await PublisherHarness.run { admin in
            let creator = try await admin.user("carol", roles: ["creator"])
            let publisher = try await admin.user("pat", roles: ["publisher"])
            let subscriber = try await admin.user("sam", roles: ["subscriber"])

            try await subscriber.send(.get, "apis").expectError(.forbidden, mentioning: "sam")
            try await subscriber.createAPI().expectError(.forbidden)
            try await publisher.createAPI().expectError(.forbidden, mentioning: "'creator'")

            let api = try await creator.createAPI()
            #expect(api.status == .created)
            #expect(api["provider"].string == "carol")
            try await creator.lifecycle(api.id, "Publish").expectError(.forbidden, mentioning: "'publisher'")
            try await publisher.send(.put, "apis/\(api.id)", json: "{}").expectError(.forbidden)
            try await publisher.send(.delete, "apis/\(api.id)").expectError(.forbidden)
            #expect(try await publisher.send(.get, "apis/\(api.id)").status == .ok)
            #expect(try await publisher.lifecycle(api.id, "Publish").status == .ok)
            #expect(try await creator.send(.get, "throttling-policies/streaming/subscription").status == .ok)

            for user in [creator, publisher, subscriber] {
                try await user.send(.get, "/api/am/admin/v4/users").expectError(.forbidden, mentioning: "'admin'")
                try await user.send(.get, "/api/am/admin/v4/throttling-policies/subscription").expectError(.forbidden)
            }
            #expect(try await admin.createAPI(["name": "Second", "context": "/second"]).status == .created)
            #expect(try await admin.send(.delete, "apis/\(api.id)").status == .noContent)
        }
    }

    @Test func adminCreatesUsers() async throws {
        try await PublisherHarness.run { admin in
            let created = try await admin.send(
                .post,
                "/api/am/admin/v4/users",
                json: #"{"username":"dana","password":"long-enough","email":"d@example.com","roles":["creator","publisher"]}"#
            )
            #expect(created.status == .created, "\(created.text)")
            #expect(created["roles"].strings == ["creator", "publisher"])
            #expect(created["password"] == nil)
            #expect(try await admin.signedIn("dana", "long-enough").send(.get, "apis").status == .ok)
            try await admin.send(.post, "/api/am/admin/v4/users", json: #"{"username":"DANA","password":"long-enough","roles":["creator"]}"#)
                .expectError(.conflict, mentioning: "DANA")
            try await admin.send(.post, "/api/am/admin/v4/users", json: #"{"username":"eve","password":"short","roles":["creator"]}"#)
                .expectError(.badRequest, mentioning: "'password'")
            try await admin.send(.post, "/api/am/admin/v4/users", json: #"{"username":"eve","password":"long-enough","roles":["root"]}"#)
                .expectError(.badRequest, mentioning: "'roles'", "root")
            try await admin.send(.post, "/api/am/admin/v4/users", json: #"{"username":"eve","password":"long-enough","roles":[]}"#)
                .expectError(.badRequest, mentioning: "'roles'")
            try await admin.send(.post, "/api/am/admin/v4/users", json: #"{"username":"e ve","password":"long-enough","roles":["creator"]}"#)
                .expectError(.badRequest, mentioning: "'username'")
            try await admin.send(.post, "/api/am/admin/v4/users", json: #"{"password":"long-enough","roles":["creator"]}"#)
                .expectError(.badRequest, mentioning: "'username'")
            let list = try await admin.send(.get, "/api/am/admin/v4/users").json
            #expect(list["list"].array.compactMap { $0["username"].string } == ["admin", "dana"])
        }
    }
}
