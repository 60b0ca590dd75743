import Foundation
import Hummingbird
import PorticoCore
import Testing

@testable import devportal

@Suite struct AccountsAndApplicationsTests {
    @Test func signUpValidatesAndRefusesDuplicates() async throws {
        try await DevportalHarness.run { anonymous, _ in
            _ = try await anonymous.developer("dev")
            try await anonymous.send(.post, "signup", json: #"{"username":"DEV","password":"password-1"}"#).expectError(.conflict)
            try await anonymous.send(.post, "signup", json: #"{"username":"x","password":"short"}"#).expectError(
                .badRequest,
                mentioning: "'password'"
            )
            try await anonymous.send(.post, "signup", json: #"{"username":"a b","password":"password-1"}"#).expectError(
                .badRequest,
                mentioning: "'username'"
            )
            #expect(try await anonymous.signedIn("dev").send(.get, "applications").status == .ok)
        }
    }

    @Test func signUpCanBeSwitchedOff() async throws {
        try await DevportalHarness.run(settings: ["PORTICO_SIGNUP_ENABLED": "false"]) { anonymous, _ in
            try await anonymous.send(.post, "signup", json: #"{"username":"dev","password":"password-1"}"#)
                .expectError(.forbidden, mentioning: "switched off")
        }
    }

    @Test func applicationsAreCreatedListedChangedAndDeleted() async throws {
        try await DevportalHarness.run { anonymous, _ in
            let dev = try await anonymous.developer("dev")
            let created = try await dev.send(
                .post,
                "applications",
                json: #"{"name":"Chat","throttlingPolicy":"50PerMin","description":"d","tokenType":"JWT"}"#
            )
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created["applicationId"].string)
            #expect(created.headers[.location] == "/api/am/devportal/v3/applications/\(id)")
            #expect(created["owner"].string == "dev")
            #expect(created["status"].string == "APPROVED")
            #expect(created["subscriptionCount"].int == 0)
            try await dev.send(.post, "applications", json: #"{"name":"chat","throttlingPolicy":"Unlimited"}"#).expectError(
                .conflict,
                mentioning: "chat"
            )
            try await dev.send(.post, "applications", json: #"{"name":"X","throttlingPolicy":"Huge"}"#)
                .expectError(.badRequest, mentioning: "'throttlingPolicy'", "50PerMin")
            try await dev.send(.post, "applications", json: #"{"name":"X","tokenType":"OPAQUE"}"#).expectError(.badRequest, mentioning: "'tokenType'")
            try await dev.send(.post, "applications", json: #"{"throttlingPolicy":"Unlimited"}"#).expectError(.badRequest, mentioning: "'name'")

            let changed = try await dev.send(.put, "applications/\(id)", json: #"{"name":"Chat2","throttlingPolicy":"10PerMin"}"#)
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(changed["name"].string == "Chat2")
            #expect(changed["throttlingPolicy"].string == "10PerMin")
            #expect(changed["description"].string == "d")
            let list = try await dev.send(.get, "applications").json
            #expect(list["count"].int == 1)

            let plans = try await dev.send(.get, "throttling-policies/application").json
            #expect(plans["list"].array.compactMap { $0["name"].string } == ["Unlimited", "50PerMin", "20PerMin", "10PerMin"])

            #expect(try await dev.send(.delete, "applications/\(id)").status == .noContent)
            try await dev.send(.get, "applications/\(id)").expectError(.notFound)
        }
    }

    @Test func oneUserCannotReadOrChangeAnothersApplicationsSubscriptionsOrKeys() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let api = try await provider.api()
            let alice = try await anonymous.developer("alice")
            let mallory = try await anonymous.developer("mallory")
            let app = try await alice.createApplication()
            let subscription = try await alice.subscribe(app, to: api.id)
            let subscriptionID = try #require(subscription["subscriptionId"].string)
            let keys = try await alice.generateKeys(app)
            let keyMapping = keys.keyMappingId

            try await mallory.send(.get, "applications/\(app)").expectError(.notFound)
            try await mallory.send(.put, "applications/\(app)", json: #"{"name":"mine"}"#).expectError(.notFound)
            try await mallory.send(.delete, "applications/\(app)").expectError(.notFound)
            try await mallory.send(.get, "applications/\(app)/oauth-keys").expectError(.notFound)
            try await mallory.send(.post, "applications/\(app)/generate-keys", json: #"{"keyType":"SANDBOX"}"#).expectError(.notFound)
            try await mallory.send(.post, "applications/\(app)/oauth-keys/\(keyMapping)/regenerate-secret").expectError(.notFound)
            try await mallory.send(.post, "applications/\(app)/oauth-keys/\(keyMapping)/generate-token", json: #"{"consumerSecret":"x"}"#)
                .expectError(.notFound)
            try await mallory.subscribe(app, to: api.id).expectError(.notFound, mentioning: app)
            try await mallory.send(.get, "subscriptions/\(subscriptionID)").expectError(.notFound)
            try await mallory.send(.delete, "subscriptions/\(subscriptionID)").expectError(.notFound)
            #expect(try await mallory.send(.get, "subscriptions?applicationId=\(app)").json["count"].int == 0)
            #expect(try await mallory.send(.get, "applications").json["count"].int == 0)
            #expect(try await alice.send(.get, "applications/\(app)").status == .ok, "alice still has it all")
            #expect(try await alice.send(.get, "subscriptions?applicationId=\(app)").json["count"].int == 1)
        }
    }

    @Test func devportalNeedsCredentialsExceptForTheCatalog() async throws {
        try await DevportalHarness.run { anonymous, _ in
            let reply = try await anonymous.send(.get, "applications")
            reply.expectError(.unauthorized)
            #expect(reply.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            try await anonymous.signedIn("ghost").send(.get, "apis").expectError(.unauthorized)
            #expect(try await anonymous.send(.get, "apis").status == .ok)
        }
    }
}
