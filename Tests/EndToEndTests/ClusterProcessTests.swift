import Foundation
import NIOWebSocket
import PorticoTestSupport
import Testing
import WebSocketKit

/// Two gateway processes on one database share a subscription's events and connection slots.
@Suite(.serialized) struct ClusterProcessTests {
    static func isNotice(_ text: String) -> Bool { text.hasPrefix(#"{"error":"rate_limited""#) }

    static func plan(_ name: String, events: Int, per unit: String = "min", unitTime: Int = 1, _ extra: String = "") -> String {
        #"{"policyName":"\#(name)","defaultLimit":{"type":"EVENTCOUNTLIMIT","eventCount":{"eventCount":\#(events),"timeUnit":"\#(unit)","unitTime":\#(unitTime)}}\#(extra)}"#
    }

    @Test func twoGatewaysShareOneSubscriptionsEventsAndConnections() async throws {
        try await GatewayStack.run { stack in
            try await stack.createPlan(Self.plan("TwentyShared", events: 20, #","countedDirections":"clientToBackend""#))
            try await stack.createPlan(#"{"policyName":"OneConnection","subscriberCount":1}"#)
            let shared = try await stack.publishAPI("Shared", plans: ["TwentyShared"])
            let capped = try await stack.publishAPI("OneAtATime", plans: ["OneConnection"])
            try await stack.subscribe(stack.applicationID, to: shared, plan: "TwentyShared")
            try await stack.subscribe(stack.applicationID, to: capped, plan: "OneConnection")
            let other = try await stack.startAnotherGateway()
            let (second, secondURL) = (other.process, other.url)
            defer { second.terminate() }
            try await stack.settle()

            // Each gateway's client sends 40 messages, 20 a second: alone, each gateway would admit 20.
            let clients = [
                try await TestClient.connect("\(stack.gatewayURL)/shared/1?access_token=\(stack.token)"),
                try await TestClient.connect("\(secondURL)/shared/1?access_token=\(stack.token)"),
            ]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask {
                        for n in 1...40 {
                            try await client.socket.send("g\(index)-\(n)")
                            await pause(.milliseconds(50))
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(await clients[0].waitFor { _ in clients.allSatisfy { $0.texts.count == 40 } })
            let accepted = clients.map { $0.texts.filter { !Self.isNotice($0) }.count }
            // The documented bound: limit + refill during the run + each node's events in one sync
            // round (100 ms interval + the round trip, 250 ms allowed here) at 20 a second.
            let bound = 20 + 1 + 2 * 5
            #expect(accepted.reduce(0, +) >= 20, "\(accepted)")
            #expect(accepted.reduce(0, +) <= bound, "\(accepted): admitted beyond the bound")
            for client in clients { try await client.socket.close() }

            let holder = try await TestClient.connect("\(stack.gatewayURL)/oneatatime/1?access_token=\(stack.token)")
            await pause(.milliseconds(500))
            let refused = try await RawHandshake.perform(secondURL, path: "/oneatatime/1?access_token=\(stack.token)", headers: [])
            #expect(refused.status == .tooManyRequests, "the cap counts the other gateway's connection")
            try await holder.socket.close()
            _ = await holder.closeCode(within: 5)
            #expect(await eventually(within: 5) { await TestClient.refusal("\(secondURL)/oneatatime/1?access_token=\(stack.token)") == 101 })
        }
    }

    /// A connection management call made to either gateway reaches a connection the other holds,
    /// in both shapes, through PostgreSQL; one that ended answers 410.
    @Test func managementCallsReachAConnectionOnAnotherGateway() async throws {
        try await GatewayStack.run { stack in
            let other = try await stack.startAnotherGateway()
            defer { other.process.terminate() }
            let issued = try await stack.publisherAPI.send(.post, "apis/\(stack.apiID)/connection-keys")
            let key = try #require(issued["secret"].string)
            try await stack.settle()
            let auth = ["Authorization": "Bearer \(key)", "Content-Type": "text/plain"]

            // The client is on the second gateway; the calls go to the first.
            let client = try await TestClient.connect("\(other.url)/echowebsocket/1.0.0/inspect?access_token=\(stack.token)")
            #expect(await client.waitFor { !$0.texts.isEmpty })
            let id = try #require(JSON(parsing: client.texts[0])["headers"]["x-portico-connection-id"].string)
            let aws = "\(stack.managementURL)/echowebsocket/1.0.0/@connections/\(id)"
            let yandex = "\(stack.managementURL)/apigateways/websocket/v1/connections/\(id)"
            // Called at once: the holder reports a new connection at its next cluster sync (100 ms),
            // and the call waits for it rather than answering 410.
            let described = try await HTTP.send("GET", aws, headers: auth)
            #expect(described.status == 200, "\(String(decoding: described.body, as: UTF8.self))")
            #expect(HTTP.json(described.body)["portico"]["node"] == "second")
            #expect(HTTP.json(try await HTTP.send("GET", yandex, headers: auth).body)["gatewayId"].string == stack.apiID)

            #expect(try await HTTP.send("POST", aws, body: "across the cluster", headers: auth).status == 200)
            #expect(await client.waitFor { $0.texts.contains("across the cluster") })
            let encoded = Data("and back".utf8).base64EncodedString()
            #expect(try await HTTP.send("POST", yandex + ":send", body: #"{"data":"\#(encoded)","type":"TEXT"}"#, headers: auth).status == 200)
            #expect(await client.waitFor { $0.texts.contains("and back") })

            #expect(try await HTTP.send("DELETE", aws + "?code=4321&reason=moved", headers: auth).status == 204)
            #expect(await client.closeCode(within: 5) == WebSocketErrorCode(codeNumber: 4321))
            #expect(try await HTTP.send("GET", aws, headers: auth).status == 410)
            #expect(
                await eventually(within: 5) { other.process.output.contains(#""via":"#) },
                "the holder audits what it did for the other gateway"
            )
        }
    }
}
