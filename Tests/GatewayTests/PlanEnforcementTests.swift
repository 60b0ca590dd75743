import Foundation
import NIOHTTP1
import NIOWebSocket
import PorticoTestSupport
import Testing
import WebSocketKit

/// Business plans enforced by the gateway, in process (`InProcessStack`), against real PostgreSQL
/// and real sockets: rate limits with each action and direction, application plans and API
/// ceilings, connection caps, sizes, idle timeout and lifetime, keep-alive pings, endpoint
/// suspension, origins, live plan changes. Counting across two gateway processes is in
/// EndToEndTests (ClusterProcessTests).
@Suite(.serialized) struct PlanEnforcementTests {
    static func isNotice(_ text: String) -> Bool { text.hasPrefix(#"{"error":"rate_limited""#) }

    static func notice(_ text: String) -> JSON {
        JSON(parsing: text)
    }

    static func plan(_ name: String, events: Int, per unit: String = "min", unitTime: Int = 1, _ extra: String = "") -> String {
        #"{"policyName":"\#(name)","defaultLimit":{"type":"EVENTCOUNTLIMIT","eventCount":{"eventCount":\#(events),"timeUnit":"\#(unit)","unitTime":\#(unitTime)}}\#(extra)}"#
    }

    /// Sends `text` and waits for its echo (or a notice) to arrive.
    static func roundTrip(_ client: TestClient, _ text: String) async throws {
        let before = client.texts.count
        try await client.socket.send(text)
        #expect(await client.waitFor { $0.texts.count > before }, "no answer to \(text)")
    }

    @Test func dropTripsAtTheExactMessageAndTheConnectionStaysUsable() async throws {
        try await InProcessStack.run { stack in
            // 3 per 10 s: a token comes back every 3.3 s, long enough for four sends on a slow machine.
            try await stack.createPlan(Self.plan("ThreePer10s", events: 3, per: "sec", unitTime: 10, #","countedDirections":"clientToBackend""#))
            let api = try await stack.publishAPI("Limited", plans: ["ThreePer10s"])
            try await stack.subscribe(stack.applicationID, to: api, plan: "ThreePer10s")
            try await stack.settle()
            let client = try await TestClient.connect("\(stack.gatewayURL)/limited/1?access_token=\(stack.token)")
            for n in 1...4 { try await client.socket.send("m\(n)") }
            #expect(await client.waitFor { $0.texts.count == 4 })
            let notices = client.texts.filter(Self.isNotice)
            #expect(Set(client.texts.filter { !Self.isNotice($0) }) == ["m1", "m2", "m3"], "the 4th message is the first dropped")
            #expect(notices.count == 1)
            let notice = Self.notice(notices.first ?? "")
            #expect(notice["error"].string == "rate_limited")
            #expect(notice["code"].int == 4003)
            let retryAfter = notice["retryAfterMs"].int ?? 0
            #expect((1...3334).contains(retryAfter), "3 per 10 s refill one event every 3.3 s: \(retryAfter)")
            // retryAfterMs is this gateway's estimate. Admissions are charged to the cluster's bucket
            // when the sync reports them (every 100 ms): a sync that runs late — in this process
            // it shares the concurrency pool with every test running at once — charges them late
            // and the refill since is lost, so the first retry may be dropped again; one more
            // attempt a second later is allowed, and every drop must have been counted.
            await pause(.milliseconds(retryAfter + 150))
            var attempts = 0
            while attempts < 3 {
                attempts += 1
                let before = client.texts.count
                try await client.socket.send("m5")
                #expect(await client.waitFor { $0.texts.count > before })
                if client.texts.contains("m5") { break }
                await pause(.seconds(1))
            }
            #expect(client.texts.contains("m5"), "the connection is usable once the bucket refilled")
            #expect(!client.texts.contains("m4"))
            #expect(!client.socket.isClosed)
            let metrics = try await PrometheusScrape.read(stack.adminURL)
            #expect(
                metrics.value("portico_gateway_rate_limited_total", ["api": api, "action": "drop"]) == Double(attempts),
                "the 4th message and every retry that came too early"
            )
            try await client.socket.close()
        }
    }

    @Test func closeActionClosesWith4003AndTheBackendGets1001() async throws {
        try await InProcessStack.run { stack in
            try await stack.createPlan(Self.plan("TwoThenClose", events: 2, #","excessAction":"close""#))
            let api = try await stack.publishAPI("Strict", plans: ["TwoThenClose"])
            try await stack.subscribe(stack.applicationID, to: api, plan: "TwoThenClose")
            try await stack.settle()
            let client = try await TestClient.connect("\(stack.gatewayURL)/strict/1?access_token=\(stack.token)")
            try await Self.roundTrip(client, "m1")  // two events: both directions count by default
            try await client.socket.send("m2")
            #expect(await client.closeCode(within: 5) == WebSocketErrorCode(codeNumber: 4003))
            #expect(client.texts == ["m1"])
            #expect(await stack.echoPrinted("close 1001"), "\(stack.echoOutput)")
        }
    }

    @Test func countedDirectionsDecideWhichMessagesAreEvents() async throws {
        try await InProcessStack.run { stack in
            try await stack.createPlan(Self.plan("FourBoth", events: 4))
            try await stack.createPlan(Self.plan("TwoOut", events: 2, #","countedDirections":"backendToClient""#))
            let both = try await stack.publishAPI("Both", plans: ["FourBoth"])
            let out = try await stack.publishAPI("Out", plans: ["TwoOut"])
            try await stack.subscribe(stack.applicationID, to: both, plan: "FourBoth")
            try await stack.subscribe(stack.applicationID, to: out, plan: "TwoOut")
            try await stack.settle()

            let client = try await TestClient.connect("\(stack.gatewayURL)/both/1?access_token=\(stack.token)")
            try await Self.roundTrip(client, "m1")
            try await Self.roundTrip(client, "m2")
            try await Self.roundTrip(client, "m3")
            #expect(client.texts.count == 3 && Self.isNotice(client.texts[2]), "\(client.texts): m3 is the 5th event")

            let outbound = try await TestClient.connect("\(stack.gatewayURL)/out/1?access_token=\(stack.token)")
            try await Self.roundTrip(outbound, "m1")
            try await Self.roundTrip(outbound, "m2")
            try await Self.roundTrip(outbound, "m3")
            #expect(outbound.texts.count == 3 && Self.isNotice(outbound.texts[2]), "\(outbound.texts): the 3rd echo is dropped")
            try await client.socket.close()
            try await outbound.socket.close()
        }
    }

    @Test func applicationPlanCountsAcrossTheApplicationsSubscriptions() async throws {
        try await InProcessStack.run { stack in
            let first = try await stack.publishAPI("First", plans: ["Unlimited"])
            let second = try await stack.publishAPI("Second", plans: ["Unlimited"])
            let app = try await stack.createApplication("Metered", plan: "10PerMin")
            try await stack.subscribe(app, to: first, plan: "Unlimited")
            try await stack.subscribe(app, to: second, plan: "Unlimited")
            let token = try await stack.devportalAPI.generateKeys(app, keyType: "PRODUCTION").token.accessToken
            try await stack.settle()
            let a = try await TestClient.connect("\(stack.gatewayURL)/first/1?access_token=\(token)")
            let b = try await TestClient.connect("\(stack.gatewayURL)/second/1?access_token=\(token)")
            for n in 1...3 { try await Self.roundTrip(a, "a\(n)") }  // 6 events
            for n in 1...2 { try await Self.roundTrip(b, "b\(n)") }  // 10 events
            try await Self.roundTrip(b, "b3")
            #expect(a.texts == ["a1", "a2", "a3"])
            #expect(b.texts.count == 3 && Self.isNotice(b.texts[2]), "\(b.texts)")
            try await a.socket.close()
            try await b.socket.close()
        }
    }

    @Test func anAPICeilingCountsAllItsSubscribersTogether() async throws {
        try await InProcessStack.run { stack in
            let api = try await stack.publishAPI(
                "Ceiling",
                plans: ["Unlimited"],
                extra: #""limits":{"eventCeiling":{"eventCount":3,"timeUnit":"min","unitTime":1}}"#
            )
            try await stack.subscribe(stack.applicationID, to: api, plan: "Unlimited")
            let other = try await stack.createApplication("Other")
            try await stack.subscribe(other, to: api, plan: "Unlimited")
            let otherToken = try await stack.devportalAPI.generateKeys(other, keyType: "PRODUCTION").token.accessToken
            try await stack.settle()
            let first = try await TestClient.connect("\(stack.gatewayURL)/ceiling/1?access_token=\(stack.token)")
            let second = try await TestClient.connect("\(stack.gatewayURL)/ceiling/1?access_token=\(otherToken)")
            try await Self.roundTrip(first, "one")  // events 1 and 2
            try await Self.roundTrip(second, "two")  // event 3 passes; its echo is the 4th
            #expect(first.texts == ["one"])
            #expect(second.texts.count == 1 && Self.isNotice(second.texts[0]), "\(second.texts)")
            try await first.socket.close()
            try await second.socket.close()
        }
    }

    @Test func theConnectionCapAnswers429WithRetryAfter() async throws {
        try await InProcessStack.run { stack in
            try await stack.createPlan(#"{"policyName":"TwoConnections","subscriberCount":2}"#)
            let api = try await stack.publishAPI("Capped", plans: ["TwoConnections"])
            try await stack.subscribe(stack.applicationID, to: api, plan: "TwoConnections")
            try await stack.settle()
            let url = "\(stack.gatewayURL)/capped/1?access_token=\(stack.token)"
            let first = try await TestClient.connect(url)
            let second = try await TestClient.connect(url)
            let (head, body) = try await RawHandshake.performReadingBody(stack.gatewayURL, path: "/capped/1?access_token=\(stack.token)")
            #expect(head.status == .tooManyRequests)
            #expect(head.headers.first(name: "Retry-After") == "5")
            #expect(body["code"].string == "connection_limit")
            try await first.socket.close()
            _ = await first.closeCode(within: 5)
            #expect(await eventually(within: 5) { await TestClient.refusal(url) == 101 }, "a closed connection gives its slot back")
            try await second.socket.close()
        }
    }

    @Test func messagesOverTheSizeLimitClose1009ToTheSenderAnd1001ToTheOtherSide() async throws {
        try await InProcessStack.run { stack in
            try await stack.createPlan(#"{"policyName":"SmallMessages","maxMessageBytes":1000}"#)
            let api = try await stack.publishAPI("Sized", plans: ["SmallMessages"], extra: #""limits":{"maxMessageBytes":2000}"#)
            let apiOnly = try await stack.publishAPI("ApiSized", plans: ["Gold"], extra: #""limits":{"maxMessageBytes":500}"#)
            try await stack.subscribe(stack.applicationID, to: api, plan: "SmallMessages")
            try await stack.subscribe(stack.applicationID, to: apiOnly, plan: "Gold")
            try await stack.settle()

            let socket = try RawWebSocket(gatewayURL: stack.gatewayURL, path: "/sized/1?access_token=\(stack.token)", extensions: "x")
            #expect(socket.status == 101)
            try socket.send(opcode: 1, rsv1: false, payload: Array(repeating: 0x61, count: 1000))
            #expect(try socket.receiveMessage().count == 1000, "the plan's limit (the smaller) is inclusive")
            try socket.send(opcode: 1, fin: false, rsv1: false, payload: Array(repeating: 0x62, count: 600))
            try socket.send(opcode: 0, fin: true, rsv1: false, payload: Array(repeating: 0x62, count: 600))
            var close = try socket.receive()
            while close.opcode != 8 { close = try socket.receive() }  // the echo of the first fragment may come first
            #expect(close.closeCode == 1009, "a fragmented message over the limit")
            #expect(await stack.echoPrinted("close 1001"), "\(stack.echoOutput)")

            let second = try RawWebSocket(gatewayURL: stack.gatewayURL, path: "/apisized/1?access_token=\(stack.token)", extensions: "x")
            try second.send(opcode: 2, rsv1: false, payload: Array(repeating: 1, count: 501))
            let refused = try second.receive()
            #expect(refused.closeCode == 1009, "the API's own limit")

            // Neither the plan nor the API sets one: the gateway's default, 1 MiB, holds for a fragmented message too.
            let plain = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await plain.socket.send(raw: [UInt8](repeating: 1, count: 600_000), opcode: .binary, fin: false)
            try await plain.socket.send(raw: [UInt8](repeating: 1, count: 600_000), opcode: .continuation, fin: true)
            #expect(await plain.closeCode(within: 5) == .messageTooLarge)
        }
    }

    @Test func idleConnectionsAndOldOnesAreClosedWith1001() async throws {
        try await InProcessStack.run { stack in
            let idle = try await stack.publishAPI("Idle", plans: ["Gold"], extra: #""limits":{"idleTimeoutSeconds":1}"#)
            let short = try await stack.publishAPI("Short", plans: ["Gold"], extra: #""limits":{"maxLifetimeSeconds":2,"idleTimeoutSeconds":0}"#)
            try await stack.subscribe(stack.applicationID, to: idle)
            try await stack.subscribe(stack.applicationID, to: short)
            try await stack.settle()

            let quiet = try await TestClient.connect("\(stack.gatewayURL)/idle/1?access_token=\(stack.token)")
            let opened = Date()
            try await Self.roundTrip(quiet, "once")
            #expect(await quiet.closeCode(within: 5) == .goingAway)
            #expect(Date().timeIntervalSince(opened) >= 1)

            let busy = try await TestClient.connect("\(stack.gatewayURL)/short/1?access_token=\(stack.token)")
            let started = Date()
            while !busy.socket.isClosed && Date().timeIntervalSince(started) < 6 {
                try? await busy.socket.send("tick")
                await pause(.milliseconds(200))
            }
            #expect(busy.socket.closeCode == .goingAway)
            let lived = Date().timeIntervalSince(started)
            #expect(lived >= 1.8 && lived < 4, "closed after its 2 s lifetime although busy: \(lived)")
        }
    }

    @Test func keepAlivePingsHoldLiveClientsAndDropDeadOnes() async throws {
        try await InProcessStack.run(extra: ["GATEWAY_PING_INTERVAL": "1"]) { stack in
            let live = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            let silent = try RawWebSocket(
                gatewayURL: stack.gatewayURL,
                path: "/echowebsocket/1.0.0?access_token=\(stack.token)",
                extensions: "x"
            )
            #expect(silent.status == 101)
            await pause(.milliseconds(3500))
            #expect(!live.socket.isClosed, "websocket-kit answers the pings")
            try await Self.roundTrip(live, "still here")
            #expect(live.texts == ["still here"])
            #expect(
                await stack.echoPrinted("close 1001 client went away", within: 1),
                "a client that answers no ping is dropped and its backend told: \(stack.echoOutput)"
            )
            var frames: [RawWebSocket.Frame] = []
            while let frame = try? silent.receive() { frames.append(frame) }
            #expect(frames.contains { $0.opcode == 9 && $0.payload == Array("portico-keepalive".utf8) }, "the client was pinged")
            try await live.socket.close()
        }
    }

    @Test func aBackendThatAnswersNoPingIsDroppedAndTheClientGets1011() async throws {
        let mute = try ServerSocket { Array(ServerSocket.switchingProtocols(to: $0).utf8) }
        try await InProcessStack.run(extra: ["GATEWAY_PING_INTERVAL": "1"]) { stack in
            let api = try await stack.publishAPI(
                "Mute",
                plans: ["Gold"],
                endpointConfig: #"{"endpoint_type":"ws","production_endpoints":{"url":"ws://127.0.0.1:\#(mute.port)"}}"#
            )
            try await stack.subscribe(stack.applicationID, to: api)
            try await stack.settle()
            let client = try await TestClient.connect("\(stack.gatewayURL)/mute/1?access_token=\(stack.token)")
            #expect(await client.closeCode(within: 5) == .unexpectedServerError)
            let opcodes = frameOpcodes(mute.received)
            #expect(opcodes.contains(9), "the backend was pinged: \(opcodes)")
            #expect(!opcodes.contains(10), "the client's answers to the gateway's pings stay at the gateway: \(opcodes)")
        }
    }

    @Test func aSuspendedEndpointAnswers503UntilItsFirstSuccessfulConnect() async throws {
        try await InProcessStack.run { stack in
            let port = ServiceProcess.freePort()
            let endpoint = #"{"endpoint_type":"ws","production_endpoints":{"url":"ws://127.0.0.1:\#(port)"},"config":"#
            let flaky = try await stack.publishAPI(
                "Flaky",
                plans: ["Gold"],
                endpointConfig: endpoint
                    + #"{"actionDuration":2000,"retryTimeOut":0,"suspendDuration":1500,"suspendMaxDuration":10000,"factor":2}}"#
            )
            let never = try await stack.publishAPI(
                "Never",
                plans: ["Gold"],
                endpointConfig: endpoint
                    + #"{"retryTimeOut":0,"suspendDuration":0,"suspendMaxDuration":0}}"#
            )
            for api in [flaky, never] { try await stack.subscribe(stack.applicationID, to: api) }
            try await stack.settle()
            let path = "/flaky/1?access_token=\(stack.token)"
            #expect(try await RawHandshake.perform(stack.gatewayURL, path: path, headers: []).status == .badGateway)
            let (suspended, body) = try await RawHandshake.performReadingBody(stack.gatewayURL, path: path)
            #expect(suspended.status == .serviceUnavailable)
            #expect(body["code"].string == "endpoint_suspended")
            #expect(["1", "2"].contains(suspended.headers.first(name: "Retry-After") ?? ""))
            for _ in 0..<2 {
                #expect(
                    try await RawHandshake.perform(stack.gatewayURL, path: "/never/1?access_token=\(stack.token)", headers: []).status
                        == .badGateway,
                    "0/0: never suspended"
                )
            }

            let backend = try ServiceProcess("echo-backend", ["--port", "\(port)"], environment: [:])
            #expect(
                await eventually(within: 5) { await TestClient.refusal("\(stack.gatewayURL)\(path)") == 101 },
                "the suspension (1.5 s, not its 10 s maximum) ended and the backend answers"
            )
            backend.terminate()
            // Until the process is gone its port may still answer; the first failure must be a 502.
            var status = HTTPResponseStatus.switchingProtocols
            try await eventually(within: 5) {
                status = try await RawHandshake.perform(stack.gatewayURL, path: path, headers: []).status
                return status != .switchingProtocols
            }
            #expect(status == .badGateway, "the successful connect ended the suspension: the next failure tries the backend again")
        }
    }

    @Test func originsOutsideTheAllowListAreRefused() async throws {
        try await InProcessStack.run { stack in
            let api = try await stack.publishAPI("Browser", plans: ["Gold"], extra: #""limits":{"allowedOrigins":["https://app.example.com"]}"#)
            try await stack.subscribe(stack.applicationID, to: api)
            try await stack.settle()
            let path = "/browser/1?access_token=\(stack.token)"
            #expect(
                try await RawHandshake.perform(stack.gatewayURL, path: path, headers: [("Origin", "https://app.example.com")]).status
                    == .switchingProtocols
            )
            #expect(
                try await RawHandshake.perform(stack.gatewayURL, path: path, headers: [("Origin", "HTTPS://App.Example.com")]).status
                    == .switchingProtocols
            )
            let (refused, body) = try await RawHandshake.performReadingBody(
                stack.gatewayURL,
                path: path,
                headers: [("Origin", "https://evil.example")]
            )
            #expect(refused.status == .forbidden)
            #expect(body["code"].string == "origin_not_allowed")
            #expect(try await RawHandshake.perform(stack.gatewayURL, path: path, headers: []).status == .switchingProtocols, "no Origin")
        }
    }

    @Test func aPlanChangeAppliesToALiveConnection() async throws {
        try await InProcessStack.run { stack in
            let planID = try await stack.createPlan(Self.plan("Live", events: 2, #","countedDirections":"clientToBackend""#))
            let api = try await stack.publishAPI("Changing", plans: ["Live"])
            try await stack.subscribe(stack.applicationID, to: api, plan: "Live")
            try await stack.settle()
            let client = try await TestClient.connect("\(stack.gatewayURL)/changing/1?access_token=\(stack.token)")
            for n in 1...3 { try await Self.roundTrip(client, "m\(n)") }
            #expect(client.texts.count == 3 && Self.isNotice(client.texts[2]))

            let edited = Date()
            let (status, _) = try await HTTP.send(
                "PUT",
                "\(stack.adminAPIURL)/throttling-policies/subscription/\(planID)",
                body: Self.plan("Live", events: 5, #","countedDirections":"clientToBackend","excessAction":"close""#),
                headers: stack.admin
            )
            #expect(status == 200)
            // The plan's own change notification, not one the test sends, reloads the gateway.
            try await stack.waitForSnapshot(after: edited, within: 5)
            for n in 4...6 { try await Self.roundTrip(client, "m\(n)") }
            #expect(Array(client.texts.suffix(3)) == ["m4", "m5", "m6"], "three more events: the plan grew from 2 to 5")
            try await client.socket.send("m7")
            #expect(await client.closeCode(within: 5) == WebSocketErrorCode(codeNumber: 4003), "the new action applies")
        }
    }
}
