import Foundation
import NIOHTTP1
import PorticoCore
import PorticoTestSupport
import Testing
import WebSocketKit

@Suite(.serialized) struct ObservabilityProcessTests {
    /// The gateway's /metrics after a scripted session: one refusal, one connection with two
    /// messages each way, then a revocation that the gateway closes itself; and the publisher's
    /// request metrics.
    @Test func metricsMoveAsTheSessionGoes() async throws {
        try await GatewayStack.run { stack in
            #expect(await TestClient.refusal("\(stack.gatewayURL)/echowebsocket/1.0.0") == 401)
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await client.socket.send("one")
            try await client.socket.send("two")
            #expect(await client.waitFor { $0.texts == ["one", "two"] })
            var metrics = try await PrometheusScrape.read(stack.adminURL)
            let api = stack.apiID
            #expect(metrics.value("portico_gateway_handshakes_total", ["result": "refused", "reason": "missing_token", "status": "401"]) == 1)
            #expect(metrics.value("portico_gateway_handshakes_total", ["result": "accepted", "reason": "none", "status": "101"]) == 1)
            #expect(metrics.value("portico_gateway_handshake_duration_seconds_count", ["result": "accepted"]) == 1)
            #expect(metrics.value("portico_gateway_handshake_duration_seconds_count", ["result": "refused"]) == 1)
            #expect(metrics.value("portico_gateway_active_connections", ["api": api]) == 1)
            #expect(metrics.value("portico_gateway_messages_total", ["api": api, "direction": "in"]) == 2)
            #expect(metrics.value("portico_gateway_messages_total", ["api": api, "direction": "out"]) == 2)
            #expect(metrics.value("portico_gateway_bytes_total", ["api": api, "direction": "in"]) == 6)
            #expect(metrics.value("portico_gateway_suspended_endpoints") == 0, "\(metrics.text)")

            try await stack.revoke(stack.token)
            #expect(await client.closeCode(within: 3) == .unknown(4001))
            try await eventually(within: 5, every: .milliseconds(100)) {
                metrics = try await PrometheusScrape.read(stack.adminURL)
                return metrics.value("portico_gateway_active_connections", ["api": api]) == 0
            }
            #expect(metrics.value("portico_gateway_active_connections", ["api": api]) == 0)
            #expect(metrics.value("portico_gateway_closes_total", ["code": "4001", "initiator": "gateway"]) == 1, "\(metrics.text)")

            // A backend that is down: a connect failure, counted by API and reason.
            stack.echo.terminate()
            _ = await stack.echo.waitForExit(seconds: 5)
            let fresh = try await stack.newToken()
            #expect(await TestClient.refusal("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(fresh)") == 502)
            metrics = try await PrometheusScrape.read(stack.adminURL)
            #expect(metrics.value("portico_gateway_backend_connect_failures_total", ["api": api, "reason": "backend_unreachable"]) == 1)

            // The REST services: requests by route, method and status, with a latency histogram.
            let publisherBase = stack.publisherURL.replacingOccurrences(of: "/api/am/publisher/v4", with: "")
            #expect(try await HTTP.send("GET", "\(stack.publisherURL)/apis/\(api)", headers: stack.admin).status == 200)
            #expect(try await HTTP.send("GET", "\(stack.publisherURL)/apis/\(UUID())", headers: stack.admin).status == 404)
            let publisher = try await PrometheusScrape.read(publisherBase)
            let route = "/api/am/publisher/v4/apis/{apiId}"
            #expect(
                publisher.value(
                    "http_server_requests_total",
                    ["http_route": route, "http_request_method": "GET", "http_response_status_code": "200"]
                ) == 1,
                "\(publisher.text)"
            )
            #expect(
                publisher.value(
                    "http_server_requests_total",
                    ["http_route": route, "http_request_method": "GET", "http_response_status_code": "404"]
                ) == 1
            )
            #expect(
                publisher.value(
                    "http_server_request_duration_seconds_count",
                    ["http_route": route, "http_request_method": "GET", "http_response_status_code": "200"]
                ) == 1
            )
            let devportal = try await PrometheusScrape.read(stack.devportalURL)
            #expect(devportal.text.contains("http_server_requests_total"))
        }
    }

    /// The JSON lines of the gateway's connection log so far.
    static func connectionLog(_ stack: GatewayStack) -> [JSON] {
        stack.gateway.output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{") else { return nil }
            let json = HTTP.json(Data(line.utf8))
            return json["event"].string == "connection" ? json : nil
        }
    }

    /// One line per connection and per refusal, with every field; no token anywhere in the
    /// gateway's output, even at trace level where each handshake's URL and headers are logged.
    @Test func theConnectionLogHasEveryFieldAndNoSecret() async throws {
        try await GatewayStack.run(extra: ["PORTICO_LOG_LEVEL": "trace"]) { stack in
            let client = try await TestClient.connect(
                "\(stack.gatewayURL)/echowebsocket/1.0.0?x=1&access_token=\(stack.token)",
                headers: ["User-Agent": "portico-test/1"]
            )
            try await client.socket.send("hello")
            #expect(await client.waitFor { $0.texts == ["hello"] })
            try await client.socket.close(code: .normalClosure)
            let second = try await TestClient.connect(
                "\(stack.gatewayURL)/echowebsocket/1.0.0",
                headers: ["Authorization": "Bearer \(stack.token)"]
            )
            try await second.socket.close(code: .normalClosure)
            #expect(await TestClient.refusal("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=not-a-valid-token") == 401)

            await eventually(within: 5) { Self.connectionLog(stack).count >= 3 }
            let lines = Self.connectionLog(stack)
            try #require(lines.count == 3, "\(stack.gateway.output)")
            let first = try #require(lines.first { $0["path"].string?.contains("x=1") == true })
            #expect(first["path"].string == "/echowebsocket/1.0.0?x=1&access_token=REDACTED")
            #expect(first["handshake"].string == "accepted" && first["status"].int == 101)
            #expect(first["apiId"].string == stack.apiID && first["apiName"].string == "EchoWebSocket")
            #expect(first["apiVersion"].string == "1.0.0")
            #expect(first["applicationId"].string == stack.applicationID && first["applicationName"].string == "EchoClient")
            #expect(first["subscriber"].string == "dev" && first["keyType"].string == "PRODUCTION")
            #expect(first["clientAddress"].string == "127.0.0.1" && first["userAgent"].string == "portico-test/1")
            #expect(first["connectionId"].string?.count == 36 && first["node"].string != nil)
            #expect(first["start"].string?.hasPrefix("20") == true && first["durationMs"].int.map { $0 >= 0 } == true)
            #expect(first["messagesIn"].int == 1 && first["messagesOut"].int == 1)
            #expect(first["bytesIn"].int == 5 && first["bytesOut"].int == 5)
            #expect(first["closeCode"].int == 1000 && first["closedBy"].string == "client")
            let refused = try #require(lines.first { $0["handshake"].string == "refused" })
            #expect(refused["status"].int == 401 && refused["refusalReason"].string != nil)
            #expect(refused["apiId"].string == stack.apiID && refused["applicationId"] == nil)
            #expect(refused["path"].string == "/echowebsocket/1.0.0?access_token=REDACTED")

            let output = stack.gateway.output
            #expect(output.contains("Authorization: REDACTED"), "the trace line of the handshake with the header")
            #expect(!output.contains(stack.token) && !output.contains("not-a-valid-token"))
        }
    }

    /// `GATEWAY_CONNECTION_LOG=off`: the gateway serves and writes no line.
    @Test func theConnectionLogCanBeTurnedOff() async throws {
        try await GatewayStack.run(extra: ["GATEWAY_CONNECTION_LOG": "off"]) { stack in
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await client.socket.send("hello")
            #expect(await client.waitFor { $0.texts == ["hello"] })
            try await client.socket.close(code: .normalClosure)
            try await stack.waitForActiveConnections(0)
            await pause(.milliseconds(300))
            #expect(Self.connectionLog(stack).isEmpty, "\(stack.gateway.output)")
        }
    }

    /// Seven messages each way, one connection and one refusal: the publisher's and the
    /// devportal's usage say exactly that.
    @Test func usageMatchesTheScriptedTraffic() async throws {
        try await GatewayStack.run(extra: ["GATEWAY_USAGE_FLUSH_INTERVAL_MS": "200"]) { stack in
            let from = Date().addingTimeInterval(-120).formatted(.iso8601)
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            let messages = (0..<7).map { "message \($0)" }
            for message in messages { try await client.socket.send(message) }
            #expect(await client.waitFor { $0.texts == messages })
            let url = "\(stack.publisherURL)/apis/\(stack.apiID)/usage?from=\(from)&granularity=minute"
            var report = JSON.null
            func total() async throws -> JSON {
                report = HTTP.json(try await HTTP.send("GET", url, headers: stack.admin).body)
                return report["total"]
            }
            // Each flush takes what open connections counted so far: a gateway that dies loses at most one batch.
            #expect(
                try await eventually(within: 10, every: .milliseconds(200)) { try await total()["messagesIn"].int == 7 },
                "counted while the connection is open: \(report)"
            )
            try await client.socket.close(code: .normalClosure)
            #expect(await TestClient.refusal("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=bogus") == 401)

            try await eventually(within: 10, every: .milliseconds(200)) {
                let total = try await total()
                return total["messagesIn"].int == 7 && total["errors"]["auth"].int == 1
            }
            let total = try #require(report["total"].orNil, "\(report)")
            #expect(total["connections"].int == 1 && total["messagesIn"].int == 7 && total["messagesOut"].int == 7, "\(total)")
            #expect(total["bytesIn"].int == 63 && total["bytesOut"].int == 63)
            #expect(total["errors"] == ["auth": 1, "throttled": 0, "backend": 0, "other": 0])
            let series = report["series"].array
            #expect(series.count >= 2, "every minute of the range, zeros included")
            #expect(series.compactMap { $0["usage"]["messagesIn"].int }.reduce(0, +) == 7)
            let applications = report["applications"].array
            let mine = try #require(applications.first { $0["id"].string == stack.applicationID })
            #expect(mine["name"].string == "EchoClient" && mine["usage"]["messagesOut"].int == 7)

            let (status, body) = try await HTTP.send(
                "GET",
                "\(stack.devportalURL)/api/am/devportal/v3/applications/\(stack.applicationID)/usage?from=\(from)",
                headers: stack.dev
            )
            #expect(status == 200)
            let own = HTTP.json(body)
            #expect(own["total"]["messagesIn"].int == 7, "\(own)")
            #expect(own["total"]["errors"]["auth"] == 0, "the refusal named no application")
            #expect(own["apis"].array.first?["id"].string == stack.apiID)

            let (bad, problem) = try await HTTP.send("GET", "\(stack.publisherURL)/apis/\(stack.apiID)/usage?granularity=week", headers: stack.admin)
            #expect(bad == 400 && HTTP.json(problem)["code"].int == 400)
            let (other, _) = try await HTTP.send(
                "GET",
                "\(stack.devportalURL)/api/am/devportal/v3/applications/\(stack.applicationID)/usage",
                headers: stack.admin
            )
            #expect(other == 404, "another user's application")
        }
    }

    /// The publisher lists the open connections of every gateway, and forgets closed ones.
    @Test func liveConnectionsSpanEveryGateway() async throws {
        try await GatewayStack.run { stack in
            let other = try await stack.startAnotherGateway()
            let (second, secondURL) = (other.process, other.url)
            defer { second.terminate() }
            let here = try await TestClient.connect(
                "\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)",
                headers: ["User-Agent": "first-client"]
            )
            let there = try await TestClient.connect(
                "\(secondURL)/echowebsocket/1.0.0?access_token=\(stack.token)",
                headers: ["User-Agent": "second-client"]
            )
            func list() async throws -> [JSON] {
                let body = try await HTTP.send("GET", "\(stack.publisherURL)/apis/\(stack.apiID)/connections", headers: stack.admin).body
                return HTTP.json(body)["list"].array
            }
            var connections: [JSON] = []
            try await eventually(within: 5, every: .milliseconds(100)) {
                connections = try await list()
                return connections.count == 2
            }
            try #require(connections.count == 2, "\(connections)")
            #expect(Set(connections.compactMap { $0["userAgent"].string }) == ["first-client", "second-client"])
            #expect(Set(connections.compactMap { $0["node"].string }).count == 2)
            #expect(connections.contains { $0["node"].string == "second" })
            for connection in connections {
                #expect(connection["applicationId"].string == stack.applicationID && connection["applicationName"].string == "EchoClient")
                #expect(connection["clientAddress"].string == "127.0.0.1")
                #expect(connection["connectedAt"].string != nil && connection["lastActiveAt"].string != nil)
                #expect(connection["id"].string?.count == 36)
            }

            try await there.socket.close(code: .normalClosure)
            try await eventually(within: 5, every: .milliseconds(100)) {
                connections = try await list()
                return connections.count == 1
            }
            #expect(connections.map { $0["userAgent"].string } == ["first-client"])
            _ = here
        }
    }
}
