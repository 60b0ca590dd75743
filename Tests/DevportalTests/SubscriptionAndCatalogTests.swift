import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import Testing

@testable import devportal

@Suite struct SubscriptionAndCatalogTests {
    @Test func subscriptionRulesAreEnforced() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let api = try await provider.api()
            let draft = try await provider.api("Draft", context: "/draft", actions: [])
            let prototype = try await provider.api("Proto", context: "/proto", actions: [.deployAsPrototype])
            let dev = try await anonymous.developer("dev")
            let app = try await dev.createApplication()
            try await dev.subscribe(app, to: api.id, plan: "Bronze").expectError(.badRequest, mentioning: "'throttlingPolicy'", "Gold, Silver")
            try await dev.subscribe(app, to: draft.id).expectError(.badRequest, mentioning: "CREATED")
            try await dev.subscribe(app, to: UUID().uuidString).expectError(.notFound)
            #expect(try await dev.subscribe(app, to: api.id).status == .created)
            try await dev.subscribe(app, to: api.id).expectError(.conflict)
            #expect(try await dev.subscribe(app, to: prototype.id).status == .created, "PROTOTYPED APIs take subscriptions")
            try await dev.send(.post, "subscriptions", json: #"{"apiId":"\#(api.id)","throttlingPolicy":"Gold"}"#)
                .expectError(.badRequest, mentioning: "'applicationId'")
            try await dev.send(.get, "subscriptions").expectError(.badRequest)

            let mine = try await dev.send(.get, "subscriptions?apiId=\(api.id)").json
            let entry = try #require(mine["list"].array.first)
            #expect(entry["apiInfo"]["name"].string == "EchoWebSocket")
            let id = try #require(entry["subscriptionId"].string)
            #expect(try await dev.send(.delete, "subscriptions/\(id)").status == .noContent)
            #expect(try await dev.send(.get, "subscriptions?apiId=\(api.id)").json["count"].int == 0)
        }
    }

    @Test func catalogShowsWhatEachVisitorMaySee() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let published = try await provider.api()
            let privateAPI = try await provider.api("Secret", context: "/secret", visibility: .private)
            let created = try await provider.api("Draft", context: "/draft", actions: [])
            let blocked = try await provider.api("Blocked", context: "/blocked", actions: [.publish, .block])
            let retired = try await provider.api("Old", context: "/old", actions: [.publish, .deprecate, .retire])
            let deprecated = try await provider.api("Fading", context: "/fading")

            let subscriber = try await anonymous.developer("sub")
            let app = try await subscriber.createApplication()
            #expect(try await subscriber.subscribe(app, to: deprecated.id).status == .created)
            _ = try await provider.apis.changeLifecycle(id: deprecated.id, action: .deprecate, user: "admin", ifMatch: nil)
            let other = try await anonymous.developer("other")

            func names(_ client: RESTClient) async throws -> Set<String> {
                let list = try await client.send(.get, "apis").json["list"].array
                return Set(list.compactMap { $0["name"].string })
            }
            #expect(try await names(anonymous) == ["EchoWebSocket"])
            #expect(try await names(other) == ["EchoWebSocket", "Secret"])
            #expect(try await names(subscriber) == ["EchoWebSocket", "Secret", "Fading"])

            try await anonymous.send(.get, "apis/\(privateAPI.id)").expectError(.notFound)
            #expect(try await other.send(.get, "apis/\(privateAPI.id)").status == .ok)
            for hidden in [created, blocked, retired] {
                try await subscriber.send(.get, "apis/\(hidden.id)").expectError(.notFound)
            }
            try await other.send(.get, "apis/\(deprecated.id)").expectError(.notFound)
            #expect(try await subscriber.send(.get, "apis/\(deprecated.id)")["lifeCycleStatus"].string == "DEPRECATED")
            let newApp = try await subscriber.createApplication("Second")
            try await subscriber.subscribe(newApp, to: deprecated.id).expectError(.badRequest, mentioning: "DEPRECATED")

            let page = try await anonymous.send(.get, "apis?limit=1&query=echo").json
            #expect(page["count"].int == 1)
            #expect(page["pagination"]["total"].int == 1)
            _ = published
        }
    }

    @Test func asyncAPIDocumentDescribesChannelServersAndSecurity() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let api = try await provider.api()
            let document = try await anonymous.send(.get, "apis/\(api.id)/asyncapi").json
            #expect(document["asyncapi"].string == "2.6.0")
            #expect(document["info"]["title"].string == "EchoWebSocket")
            let servers = document["servers"]
            #expect(servers["production"]["url"] == "ws://localhost:9099/echowebsocket/1.0.0")
            #expect(servers["production"]["protocol"] == "ws")
            #expect(servers["production-secure"]["protocol"] == "wss")
            #expect(document["channels"].object?.isEmpty == false)
            let schemes = document["components"]["securitySchemes"]
            #expect(schemes["bearer"]["scheme"] == "bearer")
            #expect(schemes["accessTokenQuery"]["name"] == "access_token")
            #expect(schemes["accessTokenQuery"]["in"] == "query")
        }
    }
}
