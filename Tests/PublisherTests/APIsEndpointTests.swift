import Foundation
import Hummingbird
import Testing

@testable import publisher

@Suite struct APIsEndpointTests {
    @Test func createsEchoWebSocketAsInTheReferenceFlow() async throws {
        try await PublisherHarness.run { client in
            let reply = try await client.createAPI()
            #expect(reply.status == .created, "\(reply.text)")
            #expect(reply.headers[.location] == "/api/am/publisher/v4/apis/\(reply.id)")
            #expect(reply.headers[.eTag] == "\"\(reply.id)-r1\"")
            #expect(reply.headers[.contentType] == "application/json", "the context's encoder, as for every answer")
            #expect(reply.text.hasPrefix(#"{"context":"/echowebsocket","#), "sorted keys, slashes unescaped")
            #expect(reply["name"].string == "EchoWebSocket")
            #expect(reply["context"].string == "/echowebsocket")
            #expect(reply["version"].string == "1.0.0")
            #expect(reply["type"].string == "WS")
            #expect(reply["provider"].string == "admin")
            #expect(reply["lifeCycleStatus"].string == "CREATED")
            #expect(reply["policies"].strings == ["Gold", "Silver"])
            #expect(reply["isDefaultVersion"].bool == true)
            let endpoints = reply["endpointConfig"]
            #expect(endpoints["production_endpoints"]["url"].string == "ws://127.0.0.1:9100")

            let read = try await client.send(.get, "apis/\(reply.id)")
            #expect(read.status == .ok)
            #expect(read.headers[.eTag] == reply.headers[.eTag])
            #expect(read.json["lifeCycleStatus"].string == "CREATED")
            #expect(read.json["endpointConfig"]["ca_file"] == nil, "no CA file unless one is named")
        }
    }

    @Test func limitsAndEndpointSettingsAreKeptChangedAndCopied() async throws {
        try await PublisherHarness.run { client in
            let created = try await client.createAPI(
                json: """
                    {"limits": {"eventCeiling": {"eventCount": 100, "timeUnit": "min"}, "maxMessageBytes": 4096, "idleTimeoutSeconds": 60,
                                "maxLifetimeSeconds": 0, "allowedOrigins": ["https://app.example.com"]},
                     "endpointConfig": {"production_endpoints": {"url": "ws://backend"},
                                        "config": {"actionDuration": 3000, "retryTimeOut": 2, "suspendDuration": 1000, "suspendMaxDuration": 8000, "factor": 3}}}
                    """
            )
            #expect(created.status == .created, "\(created.text)")
            let limits = created["limits"]
            #expect(limits["eventCeiling"]["eventCount"].int == 100)
            #expect(limits["eventCeiling"]["unitTime"].int == 1)
            #expect(limits["maxMessageBytes"].int == 4096)
            #expect(limits["idleTimeoutSeconds"].int == 60)
            #expect(limits["maxLifetimeSeconds"].int == 0)
            #expect(limits["allowedOrigins"].strings == ["https://app.example.com"])
            let config = created["endpointConfig"]["config"]
            #expect(config["actionDuration"].int == 3000)
            #expect(config["retryTimeOut"].int == 2)
            #expect(config["suspendDuration"].int == 1000)
            #expect(config["suspendMaxDuration"].int == 8000)
            #expect(config["factor"].double == 3)

            let copy = try await client.send(.post, "apis/copy-api?apiId=\(created.id)&newVersion=2.0.0")
            #expect(copy.json["limits"]["maxMessageBytes"].int == 4096)
            #expect(copy.json["endpointConfig"]["config"]["retryTimeOut"].int == 2)

            let changed = try await client.send(.put, "apis/\(created.id)", json: #"{"limits": {"idleTimeoutSeconds": 5}}"#)
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(changed.json["limits"]["idleTimeoutSeconds"].int == 5)
            #expect(changed.json["limits"]["maxMessageBytes"] == nil, "limits are replaced as a whole")
            #expect(
                changed.json["endpointConfig"]["config"]["actionDuration"].int == 3000,
                "endpointConfig was not given: kept"
            )
        }
    }

    @Test func caFileIsKeptChangedAndCopied() async throws {
        try await PublisherHarness.run { client in
            let created = try await client.createAPI(
                json: #"{"endpointConfig": {"production_endpoints": {"url": "wss://backend.example"}, "ca_file": "/etc/portico/ca.pem"}}"#
            )
            #expect(created.status == .created, "\(created.text)")
            #expect(created["endpointConfig"]["ca_file"].string == "/etc/portico/ca.pem")
            let copy = try await client.send(.post, "apis/copy-api?apiId=\(created.id)&newVersion=2.0.0")
            #expect(copy.json["endpointConfig"]["ca_file"].string == "/etc/portico/ca.pem")
            let changed = try await client.send(
                .put,
                "apis/\(created.id)",
                json: #"{"endpointConfig": {"production_endpoints": {"url": "wss://backend.example"}}}"#
            )
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(changed.json["endpointConfig"]["ca_file"] == nil, "the PUT left it out, so it is gone")
        }
    }

    @Test(arguments: [
        (#"{"name": null}"#, "name"),
        (#"{"name": ""}"#, "name"),
        (#"{"name": 42}"#, "name"),
        (#"{"context": "echowebsocket"}"#, "context"),
        (#"{"context": "/echo/../x"}"#, "context"),
        (#"{"context": null}"#, "context"),
        (#"{"version": ""}"#, "version"),
        (#"{"version": "1/0"}"#, "version"),
        (#"{"type": "HTTP"}"#, "type"),
        (#"{"visibility": "SECRET"}"#, "visibility"),
        (#"{"policies": ["Platinum"]}"#, "policies"),
        (#"{"policies": "Gold"}"#, "policies"),
        (#"{"isDefaultVersion": "yes"}"#, "isDefaultVersion"),
        (#"{"endpointConfig": {"endpoint_type": "http", "production_endpoints": {"url": "ws://h"}}}"#, "endpointConfig.endpoint_type"),
        (#"{"endpointConfig": {"production_endpoints": {"url": "http://h"}}}"#, "endpointConfig.production_endpoints.url"),
        (#"{"endpointConfig": {"production_endpoints": {"url": "ws://"}}}"#, "endpointConfig.production_endpoints.url"),
        (#"{"endpointConfig": {"sandbox_endpoints": {"url": "tcp://h:1"}}}"#, "endpointConfig.sandbox_endpoints.url"),
        (#"{"endpointConfig": {"production_endpoints": {"url": "wss://h"}, "ca_file": "certs/ca.pem"}}"#, "endpointConfig.ca_file"),
        (
            #"{"endpointConfig": {"production_endpoints": {"url": "ws://h"}, "config": {"actionDuration": 0}}}"#,
            "endpointConfig.config.actionDuration"
        ),
        (#"{"endpointConfig": {"production_endpoints": {"url": "ws://h"}, "config": {"retryTimeOut": -1}}}"#, "endpointConfig.config.retryTimeOut"),
        (#"{"endpointConfig": {"production_endpoints": {"url": "ws://h"}, "config": {"factor": 0.5}}}"#, "endpointConfig.config.factor"),
        (
            #"{"endpointConfig": {"production_endpoints": {"url": "ws://h"}, "config": {"suspendDuration": 0}}}"#,
            "endpointConfig.config.suspendMaxDuration"
        ),
        (
            #"{"endpointConfig": {"production_endpoints": {"url": "ws://h"}, "config": {"suspendDuration": 5000, "suspendMaxDuration": 10}}}"#,
            "endpointConfig.config.suspendMaxDuration"
        ),
        (#"{"limits": {"maxMessageBytes": 0}}"#, "limits.maxMessageBytes"),
        (#"{"limits": {"idleTimeoutSeconds": -1}}"#, "limits.idleTimeoutSeconds"),
        (#"{"limits": {"maxLifetimeSeconds": 99999999}}"#, "limits.maxLifetimeSeconds"),
        (#"{"limits": {"allowedOrigins": ["app.example.com"]}}"#, "limits.allowedOrigins"),
        (#"{"limits": {"eventCeiling": {"eventCount": 0}}}"#, "limits.eventCeiling.eventCount"),
        (#"{"limits": {"eventCeiling": {"eventCount": 5, "timeUnit": "week"}}}"#, "limits.eventCeiling.timeUnit"),
    ])
    func invalidFieldIsNamed(overrides: String, field: String) async throws {
        try await PublisherHarness.run { client in
            let reply = try await client.createAPI(json: overrides)
            reply.expectError(.badRequest, mentioning: "'\(field)'")
            #expect(try await client.send(.get, "apis").json["count"].int == 0, "nothing was created")
        }
    }

    @Test func onlyWebSocketAPIsAreSupported() async throws {
        try await PublisherHarness.run { client in
            try await client.createAPI(["type": "HTTP"]).expectError(.badRequest, mentioning: "Only WebSocket APIs are supported")
            #expect(try await client.createAPI(["type": "ws"]).status == .created)
        }
    }

    @Test func unknownPlansAreRejectedWithTheAvailableOnes() async throws {
        try await PublisherHarness.run { client in
            try await client.createAPI(["policies": ["Gold", "Diamond"]])
                .expectError(.badRequest, mentioning: "Diamond", "available: Bronze, Gold, Silver, Unlimited")
        }
    }

    @Test func contextVersionAndNameVersionAreUnique() async throws {
        try await PublisherHarness.run { client in
            #expect(try await client.createAPI().status == .created)
            try await client.createAPI(["name": "Other"]).expectError(.conflict, mentioning: "/echowebsocket", "1.0.0")
            try await client.createAPI(["context": "/elsewhere"]).expectError(.conflict, mentioning: "EchoWebSocket", "1.0.0")
            try await client.createAPI(["name": "Other", "version": "2.0.0"]).expectError(.conflict, mentioning: "collides")
            try await client.createAPI(["name": "Nested", "context": "/echowebsocket/inner"]).expectError(.conflict, mentioning: "collides")
            #expect(try await client.createAPI(["name": "Outer", "context": "/echo"]).status == .created, "a sibling context is fine")
            try await client.createAPI(["version": "2.0.0", "context": "/moved"]).expectError(.conflict, mentioning: "must use it too")
            #expect(try await client.createAPI(["version": "2.0.0", "isDefaultVersion": false]).status == .created)
        }
    }

    @Test func concurrentCreationOfOneContextVersionYieldsExactlyOneCreated() async throws {
        try await PublisherHarness.run { client in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<8 {
                    group.addTask { try await client.createAPI(["name": "Racer\(index)"]).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .created }.count == 1)
            #expect(statuses.filter { $0 == .conflict }.count == 7)
        }
    }

    @Test func listPagesAndSearchesByName() async throws {
        try await PublisherHarness.run { client in
            for index in 1...5 {
                _ = try await client.createAPI(["name": "Chat\(index)", "context": "/chat\(index)", "isDefaultVersion": false])
            }
            _ = try await client.createAPI()
            let all = try await client.send(.get, "apis").json
            #expect(all["count"].int == 6)
            let page = try await client.send(.get, "apis?limit=2&offset=2").json
            #expect(page["count"].int == 2)
            let pagination = page["pagination"]
            #expect(pagination["total"].int == 6)
            #expect(pagination["next"].string == "/api/am/publisher/v4/apis?limit=2&offset=4")
            #expect(pagination["previous"].string == "/api/am/publisher/v4/apis?limit=2&offset=0")
            let found = try await client.send(.get, "apis?query=chat").json
            #expect(found["count"].int == 5)
            let wso2Style = try await client.send(.get, "apis?query=name:Echo").json
            #expect(wso2Style["list"].array.first?["name"].string == "EchoWebSocket")
            try await client.send(.get, "apis?limit=0").expectError(.badRequest, mentioning: "'limit'")
            try await client.send(.get, "apis?offset=-1").expectError(.badRequest, mentioning: "'offset'")
        }
    }

    @Test func unknownAPIsAreNotFound() async throws {
        try await PublisherHarness.run { client in
            try await client.send(.get, "apis/\(UUID())").expectError(.notFound)
            try await client.send(.get, "apis/not-a-uuid").expectError(.notFound)
            try await client.send(.put, "apis/\(UUID())", json: "{}").expectError(.notFound)
            try await client.send(.delete, "apis/\(UUID())").expectError(.notFound)
        }
    }

    @Test func updateChangesWhatMayChangeAndRefusesTheRest() async throws {
        try await PublisherHarness.run { client in
            let created = try await client.createAPI()
            let id = created.id
            let updated = try await client.send(.put, "apis/\(id)", json: #"{"description":"Echoes","policies":["Bronze"],"visibility":"PRIVATE"}"#)
            #expect(updated.status == .ok, "\(updated.text)")
            #expect(updated["description"].string == "Echoes")
            #expect(updated["policies"].strings == ["Bronze"])
            #expect(updated["visibility"].string == "PRIVATE")
            #expect(updated["name"].string == "EchoWebSocket", "omitted fields keep their values")
            #expect(updated.headers[.eTag] == "\"\(id)-r2\"")
            for (field, value) in [("name", "Renamed"), ("context", "/other"), ("version", "9")] {
                try await client.send(.put, "apis/\(id)", json: #"{"\#(field)":"\#(value)"}"#)
                    .expectError(.badRequest, mentioning: "'\(field)'", "cannot change")
            }
            // Sending the same name, context and version is fine (WSO2 clients PUT the whole API back).
            let same = try await client.send(.put, "apis/\(id)", json: #"{"name":"EchoWebSocket","context":"/echowebsocket","version":"1.0.0"}"#)
            #expect(same.status == .ok)
            try await client.send(.put, "apis/\(id)", json: #"{"policies":["Nope"]}"#).expectError(.badRequest, mentioning: "'policies'")
        }
    }

    @Test func ifMatchPreventsLostUpdates() async throws {
        try await PublisherHarness.run { client in
            let created = try await client.createAPI()
            let id = created.id
            let firstTag = try #require(created.headers[.eTag])
            let alice = try await client.send(.put, "apis/\(id)", json: #"{"description":"Alice"}"#, headers: [.ifMatch: firstTag])
            #expect(alice.status == .ok)
            try await client.send(.put, "apis/\(id)", json: #"{"description":"Bob"}"#, headers: [.ifMatch: firstTag])
                .expectError(.preconditionFailed, mentioning: "changed since you read it")
            #expect(try await client.send(.get, "apis/\(id)")["description"].string == "Alice")
            try await client.lifecycle(id, "Publish", headers: [.ifMatch: firstTag]).expectError(.preconditionFailed)
            #expect(try await client.send(.get, "apis/\(id)")["lifeCycleStatus"].string == "CREATED")
            let current = try #require(alice.headers[.eTag])
            #expect(try await client.lifecycle(id, "Publish", headers: [.ifMatch: current]).status == .ok)
            #expect(try await client.send(.put, "apis/\(id)", json: "{}", headers: [.ifMatch: "*"]).status == .ok)
        }
    }

    @Test func deleteRemovesTheAPI() async throws {
        try await PublisherHarness.run { client in
            let id = try await client.createAPI().id
            let deleted = try await client.send(.delete, "apis/\(id)")
            #expect(deleted.status == .noContent)
            try await client.send(.get, "apis/\(id)").expectError(.notFound)
            try await client.send(.delete, "apis/\(id)").expectError(.notFound)
            #expect(try await client.createAPI().status == .created, "its context and version are free again")
        }
    }

    @Test func copyMakesANewVersionInCreated() async throws {
        try await PublisherHarness.run { client in
            let original = try await client.createAPI()
            _ = try await client.lifecycle(original.id, "Publish")
            let copy = try await client.send(.post, "apis/copy-api?apiId=\(original.id)&newVersion=2.0.0&defaultVersion=true")
            #expect(copy.status == .created, "\(copy.text)")
            #expect(copy.headers[.location] == "/api/am/publisher/v4/apis/\(copy.id)")
            #expect(copy["version"].string == "2.0.0")
            #expect(copy["context"].string == "/echowebsocket")
            #expect(copy["lifeCycleStatus"].string == "CREATED")
            #expect(copy["policies"].strings == ["Gold", "Silver"])
            #expect(copy["isDefaultVersion"].bool == true)
            #expect(
                try await client.send(.get, "apis/\(original.id)")["isDefaultVersion"].bool == false,
                "at most one default version per context"
            )
            try await client.send(.post, "apis/copy-api?apiId=\(original.id)&newVersion=2.0.0").expectError(.conflict)
            try await client.send(.post, "apis/copy-api?apiId=\(original.id)").expectError(.badRequest, mentioning: "'newVersion'")
            try await client.send(.post, "apis/copy-api?newVersion=3").expectError(.badRequest, mentioning: "'apiId'")
            try await client.send(.post, "apis/copy-api?apiId=\(original.id)&newVersion=a/b").expectError(.badRequest, mentioning: "'newVersion'")
            try await client.send(.post, "apis/copy-api?apiId=\(original.id)&newVersion=3&defaultVersion=maybe")
                .expectError(.badRequest, mentioning: "'defaultVersion'")
            try await client.send(.post, "apis/copy-api?apiId=\(UUID())&newVersion=3").expectError(.notFound)
        }
    }

    @Test func settingADefaultVersionClearsThePreviousOne() async throws {
        try await PublisherHarness.run { client in
            let first = try await client.createAPI()
            let second = try await client.createAPI(["version": "2.0.0", "isDefaultVersion": false])
            #expect(try await client.send(.put, "apis/\(second.id)", json: #"{"isDefaultVersion":true}"#).status == .ok)
            #expect(try await client.send(.get, "apis/\(first.id)")["isDefaultVersion"].bool == false)
            #expect(try await client.send(.get, "apis/\(second.id)")["isDefaultVersion"].bool == true)
        }
    }
}
