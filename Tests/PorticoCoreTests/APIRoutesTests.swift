import Foundation
import Testing

@testable import PorticoCore

/// The route table's rules without a gateway: selection, validation, mappings and templates.
@Suite struct APIRoutesTests {
    static func table(_ expression: String? = "$request.body.action", keys: [String]) -> APIRoutes {
        APIRoutes(
            routeSelectionExpression: expression,
            routes: keys.map { APIRoutes.Route(routeKey: $0, integration: .init(type: .mock, body: $0)) }
        )
    }

    @Test(
        arguments: [
            (#"{"action":"join"}"#, "join"),
            (#"{"action":"leave"}"#, "$default"),  // a key without a route
            (#"{"other":"join"}"#, "$default"),  // no key
            ("join", "$default"),  // not JSON
            (#"{"action":7}"#, "7"),
            (#"{"action":true}"#, "true"),
            (#"{"action":{"x":1}}"#, "$default"),  // an object is no key
            (#"{"action":null}"#, "$default"),
            (#"["join"]"#, "$default"),
        ]
    )
    func aMessageTakesTheRouteItsKeyNames(message: String, expected: String) {
        let table = Self.table(keys: ["join", "7", "true", "$default"])
        #expect(table.select(text: message)?.key == expected)
    }

    @Test func nestedPathsBinaryMessagesAndNoDefault() {
        let nested = Self.table("$request.body.meta.kind", keys: ["a", "$default"])
        #expect(nested.select(text: #"{"meta":{"kind":"a"}}"#)?.key == "a")
        #expect(nested.select(text: #"{"meta":"a"}"#)?.key == "$default")
        #expect(nested.select(text: nil)?.key == "$default", "a binary message")
        let strict = Self.table(keys: ["a"])
        #expect(strict.select(text: #"{"action":"b"}"#) == nil, "no route and no $default: the gateway answers Forbidden")
        let everything = Self.table(nil, keys: ["$default"])
        #expect(everything.select(text: #"{"action":"a"}"#)?.key == "$default", "no expression: every message is $default's")
    }

    @Test(
        arguments: [
            ("$request.body", "routeSelectionExpression"),
            ("$request.querystring.a", "routeSelectionExpression"),
            ("$request.body.a..b", "routeSelectionExpression"),
        ]
    )
    func badExpressionsAreNamed(expression: String, field: String) {
        #expect(throws: FieldError.self) { try Self.table(expression, keys: ["$default"]).validated() }
    }

    @Test func everyFieldOfARouteIsChecked() throws {
        func refusal(_ routes: [APIRoutes.Route]) -> String? {
            do {
                _ = try APIRoutes(routeSelectionExpression: nil, routes: routes).validated()
                return nil
            } catch { return error.field }
        }
        let http = APIRoutes.Integration(type: .http, url: "http://backend:8080/x")
        #expect(refusal([]) == "routes")
        #expect(refusal([.init(routeKey: "$weird", integration: http)]) == "routes[0].routeKey")
        #expect(refusal([.init(routeKey: "a", integration: http), .init(routeKey: "a", integration: http)]) == "routes[1].routeKey")
        #expect(refusal([.init(routeKey: "$connect", twoWay: true, integration: http)]) == "routes[0].twoWay")
        #expect(refusal([.init(routeKey: "a", integration: .init(type: .http, url: "ftp://x/"))]) == "routes[0].integration.url")
        #expect(refusal([.init(routeKey: "a", integration: .init(type: .http, method: "TRACE", url: "http://x/"))]) == "routes[0].integration.method")
        #expect(
            refusal([.init(routeKey: "a", integration: .init(type: .http, url: "http://x/", timeoutMillis: 30_000))])
                == "routes[0].integration.timeoutMillis"
        )
        #expect(refusal([.init(routeKey: "a", integration: .init(type: .http, url: "http://x/", status: 200))]) == "routes[0].integration")
        #expect(refusal([.init(routeKey: "a", integration: .init(type: .mock, status: 700))]) == "routes[0].integration.status")
        let query = ["integration.request.querystring.s": "route.request.querystring.s"]
        #expect(
            refusal([.init(routeKey: "a", integration: .init(type: .http, url: "http://x/", requestParameters: query))])
                == "routes[0].integration.requestParameters.integration.request.querystring.s",
            "the handshake's query is known on $connect only"
        )
        #expect(refusal([.init(routeKey: "$connect", integration: .init(type: .http, url: "http://x/", requestParameters: query))]) == nil)
        let bad = ["integration.request.header.Bad Name": "context.connectionId"]
        #expect(refusal([.init(routeKey: "a", integration: .init(type: .http, url: "http://x/", requestParameters: bad))]) != nil)
        for reserved in ["X-Portico-Connection-Id", "Host", "content-type"] {
            let spoof = ["integration.request.header.\(reserved)": "route.request.body.id"]
            #expect(
                refusal([.init(routeKey: "a", integration: .init(type: .http, url: "http://x/", requestParameters: spoof))]) != nil,
                "a mapping cannot set \(reserved)"
            )
        }
        let unknown = ["integration.request.header.X": "context.nothing"]
        #expect(refusal([.init(routeKey: "a", integration: .init(type: .http, url: "http://x/", requestParameters: unknown))]) != nil)
        let checked = try APIRoutes(routeSelectionExpression: nil, routes: [.init(routeKey: "a", integration: http)]).validated()
        #expect(checked.routes[0].integration.method == "POST", "the method defaults to POST")
    }

    @Test func sourcesReadTheContext() {
        var context = IntegrationContext(
            connectionID: "c1",
            connectedAt: 1_700_000_000_000,
            routeKey: "join",
            messageID: "m1",
            requestID: "r1",
            sourceIP: "10.0.0.1",
            claims: ["sub": "dev", "keyType": "PRODUCTION"]
        )
        context.query = [("stocks", "aapl,goog")]
        context.headers = [("X-Trace", "t")]
        context.body = #"{"a":{"b":"deep"}}"#
        let cases: [(String, String?)] = [
            ("context.connectionId", "c1"), ("context.connectedAt", "1700000000000"), ("context.routeKey", "join"),
            ("context.messageId", "m1"), ("context.requestId", "r1"), ("context.identity.sourceIp", "10.0.0.1"),
            ("context.authorizer.sub", "dev"), ("context.authorizer.clientId", nil), ("route.request.body.a.b", "deep"),
            ("route.request.body.a.c", nil), ("'static'", "static"), ("route.request.querystring.stocks", "aapl,goog"),
            ("route.request.header.x-trace", "t"),
        ]
        for (source, expected) in cases {
            #expect(RequestParameter.Source(source).flatMap(context.value(of:)) == expected, "\(source)")
        }
    }

    @Test func templatesSubstituteSourcesAndYandexNames() {
        let context = IntegrationContext(
            connectionID: "c1",
            connectedAt: 5,
            routeKey: "$default",
            messageID: "m1",
            requestID: "r1",
            sourceIP: "ip",
            claims: [:]
        )
        #expect(context.render(#"{"connection_id":"{context.connectionId}"}"#, eventType: "MESSAGE") == #"{"connection_id":"c1"}"#)
        #expect(
            context.render(#"{"connection_id":"{X-Yc-Apigateway-Websocket-Connection-Id}"}"#, eventType: "MESSAGE") == #"{"connection_id":"c1"}"#
        )
        #expect(context.render("{unknown} {X-Yc-Apigateway-Websocket-Event-Type} {", eventType: "MESSAGE") == "{unknown} MESSAGE {")
    }
}
