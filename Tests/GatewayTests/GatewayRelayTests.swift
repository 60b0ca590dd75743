import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOWebSocket
import PorticoCore
import PorticoTestSupport
import Testing
import WebSocketKit

@testable import gateway

/// The gateway as users meet it, in process (`InProcessStack`): real sockets, real PostgreSQL, and
/// a WebSocket client library that is not Portico's (websocket-kit).
@Suite(.serialized) struct GatewayRelayTests {
    @Test func referenceFlowWithHeaderAndQueryTokensAndDefaultVersion() async throws {
        try await InProcessStack.run { stack in
            for (url, headers) in [
                ("\(stack.gatewayURL)/echowebsocket/1.0.0", HTTPHeaders([("Authorization", "Bearer \(stack.token)")])),
                ("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)", HTTPHeaders()),
                ("\(stack.gatewayURL)/echowebsocket", HTTPHeaders([("authorization", "bearer \(stack.token)")])),
            ] {
                let client = try await TestClient.connect(url, headers: headers)
                try await client.socket.send("hello through Portico")
                try await client.socket.send(raw: [1, 2, 3, 255], opcode: .binary)
                #expect(await client.waitFor { $0.texts == ["hello through Portico"] && $0.binary == [[1, 2, 3, 255]] }, "\(url)")
                try await client.socket.close(code: .normalClosure)
            }
        }
    }

    @Test func backendSeesTheForwardedHandshakeButNeverTheToken() async throws {
        try await InProcessStack.run { stack in
            let client = try await TestClient.connect(
                "\(stack.gatewayURL)/echowebsocket/1.0.0/inspect/deeper?room=7&access_token=\(stack.token)&x=a%20b",
                headers: HTTPHeaders([("Sec-WebSocket-Protocol", "stomp, mqtt"), ("X-Portico-Subscriber", "forged"), ("X-Custom", "kept")])
            )
            #expect(await client.waitFor { !$0.texts.isEmpty })
            let first = try #require(client.texts.first)
            let seen = JSON(parsing: first)
            let headers = try #require(seen["headers"].object).compactMapValues(\.string)
            #expect(seen["path"].string == "/inspect/deeper")
            #expect(seen["query"].string == "room=7&x=a%20b")
            #expect(headers["authorization"] == nil)
            #expect(!first.contains(stack.token))
            #expect(headers["x-custom"] == "kept")
            #expect(headers["sec-websocket-protocol"] == "stomp, mqtt")
            #expect(headers["x-forwarded-for"] == "127.0.0.1")
            #expect(headers["x-forwarded-proto"] == "ws")
            #expect(headers["x-forwarded-host"]?.hasPrefix("127.0.0.1") == true)
            #expect(headers["x-portico-subscriber"] == "dev", "a client cannot forge identity headers")
            #expect(headers["x-portico-application-id"] == stack.applicationID)
            #expect(headers["x-portico-application-name"] == "EchoClient")
            #expect(headers["x-portico-key-type"] == "PRODUCTION")
            #expect(headers["x-portico-connection-id"]?.count == 36)
            try await client.socket.close()
        }
    }

    @Test func subprotocolChoiceComesBackAndTheConnectionIdIsReturned() async throws {
        try await InProcessStack.run { stack in
            let response = try await RawHandshake.perform(
                stack.gatewayURL,
                path: "/echowebsocket/1.0.0",
                headers: [("Authorization", "Bearer \(stack.token)"), ("Sec-WebSocket-Protocol", "stomp, mqtt")]
            )
            #expect(response.status.code == 101)
            #expect(response.headers.first(name: "Sec-WebSocket-Protocol") == "stomp")
            #expect(response.headers.first(name: "X-Portico-Connection-Id")?.count == 36)
            let refused = try await RawHandshake.perform(stack.gatewayURL, path: "/echowebsocket/1.0.0", headers: [])
            #expect(refused.status.code == 401)
            #expect(refused.headers.first(name: "WWW-Authenticate")?.hasPrefix(#"Bearer realm="portico", error="invalid_token""#) == true)
        }
    }

    @Test func everyRefusalHasItsStatus() async throws {
        try await InProcessStack.run { stack in
            let base = "\(stack.gatewayURL)/echowebsocket/1.0.0"
            func bearer(_ token: String) -> HTTPHeaders { HTTPHeaders([("Authorization", "Bearer \(token)")]) }
            #expect(await TestClient.refusal(base) == 401, "missing")
            #expect(await TestClient.refusal("\(base)?access_token=") == 401, "empty query token")
            #expect(await TestClient.refusal(base, headers: HTTPHeaders([("Authorization", "Basic YTpi")])) == 401, "not bearer")
            #expect(await TestClient.refusal(base, headers: bearer("not.a.jwt")) == 401, "malformed")
            let parts = stack.token.split(separator: ".")
            #expect(await TestClient.refusal(base, headers: bearer("\(parts[0]).\(parts[1]).AAAA")) == 401, "bad signature")
            let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URLEncodedForTest
            #expect(await TestClient.refusal(base, headers: bearer("\(none).\(parts[1]).")) == 401, "alg none")
            let hs = Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8).base64URLEncodedForTest
            #expect(await TestClient.refusal(base, headers: bearer("\(hs).\(parts[1]).\(parts[2])")) == 401, "HS256")
            #expect(await TestClient.refusal("\(stack.gatewayURL)/nothing/1.0.0", headers: bearer(stack.token)) == 404)

            // Not subscribed: a second application of the same developer.
            let other = try await stack.createApplication("Unsubscribed")
            let otherToken = try await stack.devportalAPI.generateKeys(other, keyType: "PRODUCTION").token.accessToken
            try await stack.settle()
            #expect(await TestClient.refusal(base, headers: bearer(otherToken)) == 403)
            // A sandbox token, but the API has no sandbox endpoint.
            let sandboxToken = try await stack.devportalAPI.generateKeys(stack.applicationID, keyType: "SANDBOX").token.accessToken
            try await stack.settle()
            #expect(await TestClient.refusal(base, headers: bearer(sandboxToken)) == 403)
            // A CREATED API is not served.
            _ = try await stack.createAPI(name: "Draft", context: "/draft", version: "1")
            try await stack.settle()
            #expect(await TestClient.refusal("\(stack.gatewayURL)/draft/1", headers: bearer(stack.token)) == 404)
            // Not an upgrade.
            let (status, body) = try await HTTP.send(
                "GET",
                base.replacingOccurrences(of: "ws://", with: "http://"),
                headers: ["Authorization": "Bearer \(stack.token)"]
            )
            #expect(status == 426)
            #expect(HTTP.json(body)["code"].string == "upgrade_required")
        }
    }

    @Test func blockedAPIsAre503AndPrototypesNeedNoSubscription() async throws {
        try await InProcessStack.run { stack in
            let proto = try await stack.createAPI(name: "Proto", context: "/proto", version: "1")
            try await stack.lifecycle(proto, "Deploy as a Prototype")
            try await stack.lifecycle(stack.apiID, "Block")
            try await stack.settle()
            let bearer = HTTPHeaders([("Authorization", "Bearer \(stack.token)")])
            #expect(await TestClient.refusal("\(stack.gatewayURL)/echowebsocket/1.0.0", headers: bearer) == 503)
            #expect(await TestClient.refusal("\(stack.gatewayURL)/proto/1", headers: bearer) == 101)
        }
    }

    @Test func closeCodesTravelBothWays() async throws {
        try await InProcessStack.run { stack in
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await client.socket.close(code: .unknown(4321))
            // The echo backend answers the close with the code it received.
            #expect(await client.closeCode(within: 5) == .unknown(4321))
        }
    }

    @Test func largeAndFragmentedMessagesArriveWhole() async throws {
        try await InProcessStack.run { stack in
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            let big = [UInt8](repeating: 0x5a, count: 1_048_576)
            try await client.socket.send(raw: big, opcode: .binary)
            try await client.socket.send(raw: Array("frag".utf8), opcode: .text, fin: false)
            try await client.socket.send(raw: Array("ment".utf8), opcode: .continuation, fin: true)
            #expect(await client.waitFor(seconds: 10) { $0.binary.first?.count == big.count && $0.texts == ["fragment"] })
            try await client.socket.close()
        }
    }

    @Test func liveChangesCloseConnectionsWithinASecond() async throws {
        try await InProcessStack.run { stack in
            let revoked = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await stack.revoke(stack.token)
            #expect(await revoked.closeCode(within: 1.5) == .unknown(4001))

            let (status, body) = try await HTTP.send(
                "POST",
                "\(stack.devportalURL)/oauth2/token",
                body: "grant_type=client_credentials",
                headers: HTTP.basic(stack.consumerKey, stack.consumerSecret).merging(["Content-Type": "application/x-www-form-urlencoded"]) { a, _ in
                    a
                }
            )
            #expect(status == 200)
            let fresh = try #require(HTTP.json(body)["access_token"].string)
            let blocked = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(fresh)")
            let (_, subscriptions) = try await HTTP.send("GET", "\(stack.publisherURL)/subscriptions?apiId=\(stack.apiID)", headers: stack.admin)
            let subscriptionID = try #require(HTTP.json(subscriptions)["list"][0]["subscriptionId"].string)
            #expect(
                try await HTTP.send(
                    "POST",
                    "\(stack.publisherURL)/subscriptions/block-subscription?subscriptionId=\(subscriptionID)&blockState=BLOCKED",
                    headers: stack.admin
                ).status == 200
            )
            #expect(await blocked.closeCode(within: 1.5) == .unknown(4002))
        }
    }

    /// A backend whose first frame comes in the same TCP segment as its 101: the frame reaches
    /// the client although no later read of the backend's socket flushes it.
    @Test func aFrameThatArrivesWithTheBackends101IsRelayed() async throws {
        let backend = try ServerSocket { request in
            Array(ServerSocket.switchingProtocols(to: request).utf8) + [0x81, 5] + Array("first".utf8)
        }
        try await InProcessStack.run { stack in
            try await stack.serve("Eager", endpoint: "ws://127.0.0.1:\(backend.port)")
            let client = try await TestClient.connect("\(stack.gatewayURL)/eager/1?access_token=\(stack.token)")
            #expect(await client.waitFor(seconds: 3) { $0.texts == ["first"] })
            try? await client.socket.close()
        }
    }

    @Test func aSilentBackendIs504() async throws {
        // A listener that accepts connections and never answers.
        let silent = try ServerSocket()
        try await InProcessStack.run(extra: ["GATEWAY_BACKEND_CONNECT_TIMEOUT": "1"]) { stack in
            try await stack.serve("Silent", endpoint: "ws://127.0.0.1:\(silent.port)")
            let started = Date()
            #expect(await TestClient.refusal("\(stack.gatewayURL)/silent/1?access_token=\(stack.token)") == 504)
            #expect(Date().timeIntervalSince(started) < 5)
        }
        _ = silent
    }

}

extension Data {
    var base64URLEncodedForTest: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// More of the gateway's promises: expiry and a vanished client.
@Suite(.serialized) struct GatewayLifetimeTests {
    @Test func aTokenReachingItsExpiryClosesTheConnectionWith4001() async throws {
        try await InProcessStack.run(extra: ["GATEWAY_TOKEN_LEEWAY": "0"]) { stack in
            let keys = try await HTTP.send(
                "GET",
                "\(stack.devportalURL)/api/am/devportal/v3/applications/\(stack.applicationID)/oauth-keys",
                headers: stack.dev
            ).body
            let mapping = try #require(HTTP.json(keys)["list"][0]["keyMappingId"].string)
            let (_, body) = try await HTTP.send(
                "POST",
                "\(stack.devportalURL)/api/am/devportal/v3/applications/\(stack.applicationID)/oauth-keys/\(mapping)/generate-token",
                body: #"{"consumerSecret":"\#(stack.consumerSecret)","validityPeriod":2}"#,
                headers: stack.dev
            )
            let shortLived = try #require(HTTP.json(body)["accessToken"].string)
            let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0?access_token=\(shortLived)")
            #expect(await client.closeCode(within: 5) == .unknown(4001))
        }
    }

    @Test func aVanishedClientClosesTheBackendWith1001() async throws {
        try await InProcessStack.run { stack in
            let client = try await RawHandshake.open(stack.gatewayURL, path: "/echowebsocket/1.0.0?access_token=\(stack.token)")
            try await stack.waitForActiveConnections(1)
            // Drop the TCP connection without a close frame.
            try await client.close()
            #expect(await stack.echoPrinted("close 1001 client went away", within: 3), "\(stack.echoOutput)")
        }
    }

}

/// Every change a provider or developer makes acts on open connections, within a second.
@Suite struct GatewayLiveChangeTests {
    static func open(_ stack: InProcessStack, token: String? = nil, path: String = "/echowebsocket/1.0.0") async throws -> TestClient {
        try await TestClient.connect("\(stack.gatewayURL)\(path)?access_token=\(token ?? stack.token)")
    }

    @Test func eachWithdrawalClosesWithItsCode() async throws {
        try await InProcessStack.run { stack in
            // The API is blocked, then published again.
            var client = try await Self.open(stack)
            try await stack.lifecycle(stack.apiID, "Block")
            #expect(await client.closeCode(within: 1.5) == .unknown(4002), "blocked API")
            try await stack.lifecycle(stack.apiID, "Re-Publish")
            try await stack.settle()

            // The developer unsubscribes, then subscribes again.
            client = try await Self.open(stack)
            let (_, list) = try await HTTP.send(
                "GET",
                "\(stack.devportalURL)/api/am/devportal/v3/subscriptions?applicationId=\(stack.applicationID)",
                headers: stack.dev
            )
            let subscription = try #require(HTTP.json(list)["list"][0]["subscriptionId"].string)
            #expect(
                try await HTTP.send(
                    "DELETE",
                    "\(stack.devportalURL)/api/am/devportal/v3/subscriptions/\(subscription)",
                    headers: stack.dev
                ).status == 204
            )
            #expect(await client.closeCode(within: 1.5) == .unknown(4002), "deleted subscription")
            try await stack.subscribe(stack.applicationID, to: stack.apiID)
            try await stack.settle()

            // Deprecation keeps subscribers connected; retirement does not.
            client = try await Self.open(stack)
            try await stack.lifecycle(stack.apiID, "Deprecate")
            try await stack.settle()
            try await client.socket.send("still here")
            #expect(await client.waitFor { $0.texts == ["still here"] }, "a subscriber keeps a deprecated API")
            try await stack.lifecycle(stack.apiID, "Retire")
            #expect(await client.closeCode(within: 1.5) == .unknown(4002), "retired API")

            // Deleting an application ends its connections (and revokes its tokens).
            let api = try await stack.createAPI(name: "Second", context: "/second", version: "1")
            try await stack.lifecycle(api, "Publish")
            let app = try await stack.createApplication("Doomed")
            try await stack.subscribe(app, to: api)
            let token = try await stack.devportalAPI.generateKeys(app, keyType: "PRODUCTION").token.accessToken
            try await stack.settle()
            client = try await Self.open(stack, token: token, path: "/second/1")
            #expect(try await HTTP.send("DELETE", "\(stack.devportalURL)/api/am/devportal/v3/applications/\(app)", headers: stack.dev).status == 204)
            #expect(await client.closeCode(within: 1.5) == .unknown(4002), "deleted application")
        }
    }
}
