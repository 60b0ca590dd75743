import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOWebSocket
import PorticoTestSupport
import ServiceLifecycle
import Testing

@testable import PorticoCore
@testable import gateway

/// An HTTP integration backend for the route tests, on a port of its own: it records every call
/// (path, query, headers, body) and answers by path — `/connect` (403 when the mapped `stocks` is
/// `refuse`), `/disconnect`, `/message` (echoes the body inside `{"got":…}`), `/slow` (answers
/// after 400 ms), `/fail` (500), `/binary` (bytes).
final class IntegrationBackend: Sendable {
    struct Call: Sendable {
        let path: String
        let query: [String: String]
        let headers: [String: String]
        let body: String
    }

    let calls: NIOLockedValueBox<[Call]>
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    var url: String { "http://127.0.0.1:\(port)" }
    func recorded(_ path: String) -> [Call] { calls.withLockedValue { $0.filter { $0.path == path } } }

    private init(calls: NIOLockedValueBox<[Call]>, port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.calls = calls
        self.port = port
        self.group = group
        self.task = task
    }

    static func start() async throws -> IntegrationBackend {
        let calls = NIOLockedValueBox<[Call]>([])
        let router = Router()
        router.post("{path}") { request, context -> Response in
            let path = "/" + (context.parameters.get("path") ?? "")
            var request = request
            let body = String(buffer: try await request.collectBody(upTo: 1 << 20))
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            var query: [String: String] = [:]
            for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
            calls.withLockedValue { $0.append(Call(path: path, query: query, headers: headers, body: body)) }
            switch path {
            case "/connect" where query["stocks"] == "refuse":
                return Response(status: .forbidden, body: .init(byteBuffer: ByteBuffer(string: #"{"message":"no stocks for you"}"#)))
            case "/message":
                return Response(
                    status: .ok,
                    headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"got":\#(body)}"#))
                )
            case "/slow":
                await pause(.milliseconds(400))
                return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "slow:\(body)")))
            case "/fail":
                return Response(status: .internalServerError)
            case "/binary":
                return Response(
                    status: .ok,
                    headers: [.contentType: "application/octet-stream"],
                    body: .init(byteBuffer: ByteBuffer(bytes: [1, 2, 3]))
                )
            default:
                return Response(status: .ok)
            }
        }
        let port = ServiceProcess.freePort()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        let group = ServiceGroup(configuration: .init(services: [app], logger: app.logger))
        let task = Task { try await group.run() }
        let up = await eventually(within: 10) { (try? await HTTP.send("POST", "http://127.0.0.1:\(port)/ping").status) == 200 }
        guard up else { throw TestSetupError("the integration backend did not start") }
        calls.withLockedValue { $0.removeAll() }
        return IntegrationBackend(calls: calls, port: port, group: group, task: task)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

@Suite struct RoutesTests {
    /// AWS's tutorial: `$request.body.action`, `$connect` and `$disconnect` HTTP integrations that
    /// get the handshake's `stocks`, the connection id and the token's subject, a two-way route, a
    /// MOCK `$default`, a push through `@connections`, and the `$disconnect` with the close code.
    @Test func theAWSTutorialRunsOnPortico() async throws {
        let backend = try await IntegrationBackend.start()
        try await InProcessStack.run { stack in
            let routes = """
                "routeSelectionExpression":"$request.body.action",
                "routes":[
                 {"routeKey":"$connect","integration":{"type":"HTTP","method":"POST","url":"\(backend.url)/connect","timeoutMillis":5000,
                  "requestParameters":{"integration.request.querystring.stocks":"route.request.querystring.stocks",
                                       "integration.request.header.connectionId":"context.connectionId",
                                       "integration.request.querystring.userId":"context.authorizer.sub"}}},
                 {"routeKey":"$disconnect","integration":{"type":"HTTP","url":"\(backend.url)/disconnect"}},
                 {"routeKey":"sendmessage","twoWay":true,"integration":{"type":"HTTP","url":"\(backend.url)/message",
                  "requestParameters":{"integration.request.header.X-Data":"route.request.body.data"}}},
                 {"routeKey":"$default","twoWay":true,"integration":{"type":"MOCK","status":200,
                  "headers":{"Content-Type":"application/json"},"body":"{\\"connection_id\\":\\"{context.connectionId}\\"}"}}
                ]
                """
            let reply = try await stack.publisherAPI.createAPI(
                json: #"{"name":"Stocks","context":"/stocks","version":"1","policies":["Gold"],"endpointConfig":null,\#(routes)}"#
            )
            #expect(reply.status == .created, "\(reply.text)")
            #expect(reply["routes"].array.count == 4)
            #expect(reply["routes"][2]["integration"]["method"] == "POST", "the method defaults to POST")
            let apiID = reply.id
            let copy = try await stack.publisherAPI.send(.post, "apis/copy-api?apiId=\(apiID)&newVersion=2")
            #expect(copy["routes"].array.count == 4, "routes are versioned with the API: \(copy.text)")
            try await stack.lifecycle(apiID, "Publish")
            try await stack.subscribe(stack.applicationID, to: apiID)
            try await stack.settle()

            // The routes in the AsyncAPI document and on the developer portal's page.
            let asyncAPI = try await stack.devportalAPI.send(.get, "apis/\(apiID)/asyncapi")
            let published = asyncAPI["channels"]["/"]["publish"]["message"]["oneOf"].array.compactMap { $0["name"].string }
            #expect(published == ["sendmessage", "$default"], "\(asyncAPI.text)")
            let page = try await HTTP.send("GET", "\(stack.devportalURL)/devportal/apis/\(apiID)")
            #expect(String(decoding: page.body, as: UTF8.self).contains("<code>sendmessage</code>"))

            let client = try await TestClient.connect("\(stack.gatewayURL)/stocks/1?access_token=\(stack.token)&stocks=aapl,goog")
            let connect = try #require(backend.recorded("/connect").first)
            #expect(connect.query["stocks"] == "aapl,goog")
            #expect(connect.query["userId"] == "dev")
            #expect(connect.query["access_token"] == nil, "the token is not forwarded")
            let id = try #require(connect.headers["connectionid"])
            #expect(connect.headers["x-portico-connection-id"] == id)
            #expect(connect.headers["x-portico-event-type"] == "CONNECT")

            try await client.socket.send(#"{"action":"sendmessage","data":"hello"}"#)
            #expect(await client.waitFor { $0.texts.contains(#"{"got":{"action":"sendmessage","data":"hello"}}"#) }, "\(client.texts)")
            let message = try #require(backend.recorded("/message").first)
            #expect(message.headers["x-data"] == "hello")
            #expect(message.headers["content-type"] == "application/json")
            #expect(message.headers["x-portico-event-type"] == "MESSAGE")
            #expect(message.headers["x-portico-route-key"] == "sendmessage")

            try await client.socket.send("not json at all")
            #expect(await client.waitFor { $0.texts.contains(#"{"connection_id":"\#(id)"}"#) }, "\(client.texts)")

            // The backend pushes to its client by connection id.
            let keyReply = try await stack.publisherAPI.send(.post, "apis/\(apiID)/connection-keys")
            let key = try #require(keyReply["secret"].string)
            try await stack.settle()
            let (status, _) = try await HTTP.send(
                "POST",
                "\(stack.managementURL)/stocks/1/@connections/\(id)",
                body: "price update",
                headers: ["Authorization": "Bearer \(key)", "Content-Type": "text/plain"]
            )
            #expect(status == 200)
            #expect(await client.waitFor { $0.texts.contains("price update") })

            try await client.socket.close(code: .normalClosure)
            #expect(await eventually(within: 5) { !backend.recorded("/disconnect").isEmpty })
            let disconnect = try #require(backend.recorded("/disconnect").first)
            #expect(disconnect.headers["x-portico-connection-id"] == id)
            #expect(disconnect.headers["x-portico-event-type"] == "DISCONNECT")
            #expect(disconnect.headers["x-portico-close-code"] == "1000")
            #expect(backend.recorded("/disconnect").count == 1, "once")

            // Live closes apply as to a proxied API: a revoked token closes its routed connection with 4001.
            let token = try await stack.newToken()
            let revoked = try await TestClient.connect("\(stack.gatewayURL)/stocks/1?access_token=\(token)&stocks=x")
            try await stack.revoke(token)
            #expect(await revoked.closeCode(within: 5) == .unknown(4001))

            // A $connect answering 403 refuses the handshake with 403.
            let refused = await TestClient.refusal("\(stack.gatewayURL)/stocks/1?access_token=\(stack.token)&stocks=refuse")
            #expect(refused == 403)
        }
        await backend.stop()
    }

    /// One-way routes, failing and slow integrations, binary answers, order under a slow
    /// integration, and a rate-limited routed message.
    @Test func integrationsFailSlowAndInOrder() async throws {
        let backend = try await IntegrationBackend.start()
        try await InProcessStack.run { stack in
            try await stack.createPlan(
                #"{"policyName":"SixPerMinute","defaultLimit":{"type":"EVENTCOUNTLIMIT","eventCount":{"eventCount":6,"timeUnit":"min","unitTime":1}}}"#
            )
            let routes = """
                "routeSelectionExpression":"$request.body.kind",
                "routes":[
                 {"routeKey":"slow","twoWay":true,"integration":{"type":"HTTP","url":"\(backend.url)/slow"}},
                 {"routeKey":"fail","twoWay":true,"integration":{"type":"HTTP","url":"\(backend.url)/fail"}},
                 {"routeKey":"late","twoWay":true,"integration":{"type":"HTTP","url":"\(backend.url)/slow","timeoutMillis":100}},
                 {"routeKey":"bytes","twoWay":true,"integration":{"type":"HTTP","url":"\(backend.url)/binary"}},
                 {"routeKey":"quiet","integration":{"type":"HTTP","url":"\(backend.url)/message"}}
                ]
                """
            let reply = try await stack.publisherAPI.createAPI(
                json: #"{"name":"Kinds","context":"/kinds","version":"1","policies":["SixPerMinute"],"endpointConfig":null,\#(routes)}"#
            )
            #expect(reply.status == .created, "\(reply.text)")
            try await stack.lifecycle(reply.id, "Publish")
            try await stack.subscribe(stack.applicationID, to: reply.id, plan: "SixPerMinute")
            try await stack.settle()
            let client = try await TestClient.connect("\(stack.gatewayURL)/kinds/1?access_token=\(stack.token)")

            // In order, even behind a slow integration: the quick one answers after the slow one.
            try await client.socket.send(#"{"kind":"slow","n":1}"#)
            try await client.socket.send(#"{"kind":"bytes"}"#)
            #expect(await client.waitFor { !$0.binary.isEmpty })
            #expect(client.texts.first == #"slow:{"kind":"slow","n":1}"#, "\(client.texts)")

            try await client.socket.send(#"{"kind":"fail"}"#)
            #expect(await client.waitFor { $0.texts.contains { $0.hasPrefix(#"{"message":"Internal server error","connectionId":""#) } })
            try await client.socket.send(#"{"kind":"late"}"#)
            #expect(await client.waitFor { $0.texts.filter { $0.contains("Internal server error") }.count == 2 }, "a timeout is a failure too")
            try await client.socket.send(#"{"kind":"nothing"}"#)
            #expect(await client.waitFor { $0.texts.contains { $0.hasPrefix(#"{"message":"Forbidden""#) } }, "no route, no $default")
            #expect(client.socket.isClosed == false, "failures keep the connection open")
            // The plan applies as to a proxied API: the sixth message passes, the seventh is dropped.
            try await client.socket.send(#"{"kind":"quiet"}"#)
            #expect(await eventually(within: 5) { !backend.recorded("/message").isEmpty }, "a one-way route is called")
            try await client.socket.send(#"{"kind":"quiet"}"#)
            #expect(await client.waitFor { $0.texts.contains { $0.hasPrefix(#"{"error":"rate_limited","code":4003"#) } }, "\(client.texts)")
            #expect(backend.recorded("/message").count == 1, "the dropped message reached no integration")

            // The API becomes a proxied one: its routed connections close with 1001.
            let changed = try await stack.publisherAPI.send(
                .put,
                "apis/\(reply.id)",
                json: #"{"routes":[],"endpointConfig":{"endpoint_type":"ws","production_endpoints":{"url":"ws://127.0.0.1:\#(stack.echoPort)"}}}"#
            )
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(await client.closeCode(within: 5) == .goingAway)
        }
        await backend.stop()
    }
}

@Suite struct TimeOrderedIDTests {
    @Test func idsAreUUIDv7AndSortByTime() async throws {
        let first = TimeOrderedID.next()
        await pause(.milliseconds(2))
        let second = TimeOrderedID.next()
        #expect(first.count == 36 && first.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12], "\(first)")
        #expect(Array(first)[14] == "7", "version 7")
        #expect(UUID(uuidString: first) != nil)
        #expect(first < second, "later ids sort after earlier ones")
        #expect(APIRoutes.parse(#" {"a":1}"#) != nil && APIRoutes.parse("hello") == nil && APIRoutes.parse("{broken") == nil)
    }
}
