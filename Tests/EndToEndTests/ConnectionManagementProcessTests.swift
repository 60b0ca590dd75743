import Foundation
import NIOWebSocket
import PorticoCore
import PorticoTestSupport
import Testing
import WebSocketKit

/// The connection management API, in both shapes, through the built binaries: a backend reads,
/// messages and closes the API's clients with one of the API's connection keys.
@Suite struct ConnectionManagementProcessTests {
    /// A connection key for `apiID`, issued through the publisher, once the gateway has it.
    static func connectionKey(_ stack: GatewayStack, for apiID: String) async throws -> String {
        let issued = Date()
        let reply = try await stack.publisherAPI.send(.post, "apis/\(apiID)/connection-keys")
        #expect(reply.status == .created, "\(reply.text)")
        try await stack.waitForSnapshot(after: issued)
        return try #require(reply["secret"].string)
    }

    /// A client on `/inspect`, which the echo backend first tells what handshake it received: the
    /// connection's id, as the backend sees it.
    static func client(_ stack: GatewayStack) async throws -> (TestClient, String) {
        let client = try await TestClient.connect("\(stack.gatewayURL)/echowebsocket/1.0.0/inspect?access_token=\(stack.token)")
        #expect(await client.waitFor { !$0.texts.isEmpty })
        let id = try #require(JSON(parsing: client.texts[0])["headers"]["x-portico-connection-id"].string)
        return (client, id)
    }

    static func call(
        _ method: String,
        _ url: String,
        key: String?,
        body: String? = nil,
        contentType: String = "text/plain"
    ) async throws -> (status: Int, json: JSON) {
        var headers = ["Content-Type": contentType]
        if let key { headers["Authorization"] = "Bearer \(key)" }
        let (status, data) = try await HTTP.send(method, url, body: body, headers: headers)
        return (status, JSON(parsing: data))
    }

    @Test func awsShapeReadsMessagesAndClosesAClient() async throws {
        try await GatewayStack.run { stack in
            let key = try await Self.connectionKey(stack, for: stack.apiID)
            let (client, id) = try await Self.client(stack)
            let url = "\(stack.managementURL)/echowebsocket/1.0.0/@connections/\(id)"

            let described = try await Self.call("GET", url, key: key)
            #expect(described.status == 200, "\(described.json)")
            #expect(described.json["identity"]["sourceIp"] == "127.0.0.1")
            #expect(described.json["connectedAt"].string != nil && described.json["lastActiveAt"].string != nil)
            #expect(described.json["portico"]["applicationId"].string == stack.applicationID)
            #expect(described.json["portico"]["keyType"] == "PRODUCTION")
            let encoded = "\(stack.managementURL)/echowebsocket/1.0.0/%40connections/\(id)"
            #expect(try await Self.call("GET", encoded, key: key).status == 200, "the @ may arrive as %40")

            #expect(try await Self.call("POST", url, key: key, body: #"{"price":42}"#, contentType: "application/json").status == 200)
            #expect(await client.waitFor { $0.texts.contains(#"{"price":42}"#) }, "\(client.texts)")
            #expect(try await Self.call("POST", url, key: key, body: "raw bytes", contentType: "application/octet-stream").status == 200)
            #expect(await client.waitFor { $0.binary.contains(Array("raw bytes".utf8)) })

            let large = String(repeating: "x", count: 128 * 1024 + 1)
            let tooLarge = try await Self.call("POST", url, key: key, body: large)
            #expect(tooLarge.status == 413 && tooLarge.json["message"] == "PayloadTooLargeException")
            #expect(try await Self.call("POST", url, key: key, body: String(large.dropLast())).status == 200, "128 KiB exactly")

            // The pushes are the API's traffic: counted as messages to the client, and as calls.
            let metrics = try await PrometheusScrape.read(stack.adminURL)
            #expect((metrics.value("portico_gateway_management_calls_total", ["action": "send", "status": "200"]) ?? 0) >= 3, "\(metrics.text)")
            #expect((metrics.value("portico_gateway_management_calls_total", ["action": "send", "status": "413"]) ?? 0) >= 1)
            #expect(
                (metrics.value("portico_gateway_messages_total", ["api": stack.apiID, "direction": "out"]) ?? 0) >= 4,
                "the inspect line and 3 pushes"
            )

            let bad = try await Self.call("DELETE", url + "?code=3000", key: key)
            #expect(bad.status == 400 && bad.json["message"] == "BadRequestException", "\(bad.json)")
            #expect(try await Self.call("DELETE", url + "?code=4100&reason=bye", key: key).status == 204)
            #expect(await client.closeCode(within: 5) == WebSocketErrorCode(codeNumber: 4100))
            #expect(await stack.echoPrinted("close 1001"), "the backend is told the client went away")
            let gone = try await Self.call("GET", url, key: key)
            #expect(gone.status == 410 && gone.json["message"] == "GoneException" && gone.json["code"] == 410)
            #expect(try await Self.call("POST", url, key: key, body: "late").status == 410)

            func audit() -> [JSON] {
                stack.connectionLogOutput.split(separator: "\n").map { JSON(parsing: String($0)) }.filter { $0["event"] == "management" }
            }
            #expect(
                await eventually(within: 5) {
                    audit().contains { $0["action"] == "disconnect" && $0["closeCode"] == 4100 && $0["connectionId"].string == id }
                },
                "every call has an audit line: \(audit())"
            )
            #expect(audit().contains { $0["action"] == "send" && $0["bytes"] == 12 && $0["status"] == 200 })
            #expect(audit().contains { $0["action"] == "get" && $0["status"] == 410 })
            #expect(!stack.connectionLogOutput.contains("price"), "never the message itself")
        }
    }

    @Test func yandexShapeReadsSendsAndDisconnects() async throws {
        try await GatewayStack.run { stack in
            let key = try await Self.connectionKey(stack, for: stack.apiID)
            let (client, id) = try await Self.client(stack)
            let url = "\(stack.managementURL)/apigateways/websocket/v1/connections/\(id)"

            let described = try await Self.call("GET", url, key: key)
            #expect(described.status == 200 && described.json["id"].string == id && described.json["gatewayId"].string == stack.apiID)
            #expect(described.json["identity"]["sourceIp"] == "127.0.0.1")

            let text = Data("hello from the API".utf8).base64EncodedString()
            let sent = try await Self.call(
                "POST",
                url + ":send",
                key: key,
                body: #"{"data":"\#(text)","type":"TEXT"}"#,
                contentType: "application/json"
            )
            #expect(sent.status == 200, "\(sent.json)")
            #expect(await client.waitFor { $0.texts.contains("hello from the API") })
            let binary = Data([0, 1, 2, 255]).base64EncodedString()
            #expect(try await Self.call("POST", url + ":send", key: key, body: #"{"data":"\#(binary)","type":"BINARY"}"#).status == 200)
            #expect(await client.waitFor { $0.binary.contains([0, 1, 2, 255]) })
            let notText = Data([0xFF, 0xFE]).base64EncodedString()
            #expect(try await Self.call("POST", url + ":send", key: key, body: #"{"data":"\#(notText)","type":"TEXT"}"#).status == 400)

            #expect(try await Self.call("DELETE", url, key: key).status == 204)
            #expect(await client.closeCode(within: 5) == .normalClosure)
            #expect(try await Self.call("GET", url, key: key).status == 410)
        }
    }

    @Test func onlyTheAPIsOwnKeysMayAct() async throws {
        try await GatewayStack.run { stack in
            let otherAPI = try await stack.serve("Other", endpoint: "ws://127.0.0.1:\(stack.echoPort)")
            let otherKey = try await Self.connectionKey(stack, for: otherAPI)
            let key = try await Self.connectionKey(stack, for: stack.apiID)
            let (client, id) = try await Self.client(stack)
            let aws = "\(stack.managementURL)/echowebsocket/1.0.0/@connections/\(id)"
            let yandex = "\(stack.managementURL)/apigateways/websocket/v1/connections/\(id)"

            let none = try await Self.call("GET", aws, key: nil)
            #expect(none.status == 401 && none.json["message"] == "UnauthorizedException")
            #expect(try await Self.call("GET", aws, key: "pck_not-a-key").status == 401)
            let forged = String(key.dropLast(4)) + "AAAA"
            #expect(try await Self.call("GET", aws, key: forged).status == 401, "a wrong secret for a real key id")
            let foreign = try await Self.call("GET", aws, key: otherKey)
            #expect(foreign.status == 403 && foreign.json["message"] == "ForbiddenException")
            #expect(try await Self.call("GET", "\(stack.managementURL)/other/1/@connections/\(id)", key: otherKey).status == 403)
            #expect(try await Self.call("DELETE", yandex, key: otherKey).status == 403)
            #expect(try await Self.call("GET", "\(stack.managementURL)/nothing/1/@connections/\(id)", key: key).status == 404)
            #expect(try await Self.call("GET", "\(stack.managementURL)/echowebsocket/1.0.0/@connections/not%20an%20id", key: key).status == 400)
            #expect(!client.socket.isClosed, "nothing a refused call asked for happened")

            // Revoked through the publisher: refused from the next snapshot on.
            let keyID = try #require(ConnectionKey.parse(key)?.id)
            let revoked = Date()
            #expect(try await stack.publisherAPI.send(.delete, "apis/\(stack.apiID)/connection-keys/\(keyID)").status == .noContent)
            try await stack.waitForSnapshot(after: revoked)
            #expect(try await Self.call("GET", aws, key: key).status == 401)
        }
    }

    /// Providers message and close a connection through the publisher, with their own credentials.
    @Test func providersMessageAndCloseThroughThePublisher() async throws {
        try await GatewayStack.run { stack in
            let (client, id) = try await Self.client(stack)
            let connections = "apis/\(stack.apiID)/connections"
            // The gateway reports the connection at its next cluster sync.
            #expect(await eventually(within: 5) { (try? await stack.publisherAPI.send(.get, connections))?["count"] == 1 })
            let sent = try await stack.publisherAPI.send(.post, "\(connections)/\(id)/messages", json: #"{"notice":"maintenance at noon"}"#)
            #expect(sent.status == .ok, "\(sent.text)")
            #expect(await client.waitFor { $0.texts.contains(#"{"notice":"maintenance at noon"}"#) })
            let otherAPI = try await stack.serve("Elsewhere", endpoint: "ws://127.0.0.1:\(stack.echoPort)")
            let foreign = try await stack.publisherAPI.send(.delete, "apis/\(otherAPI)/connections/\(id)")
            #expect(foreign.status == .forbidden, "the connection is not this API's: \(foreign.text)")
            try await stack.publisherAPI.send(.delete, "\(connections)/\(id)?code=3999").expectError(.badRequest, mentioning: "'code'")
            let subscriber = try await stack.publisherAPI.user("viewer", roles: ["subscriber"])
            try await subscriber.send(.delete, "\(connections)/\(id)").expectError(.forbidden)
            #expect(try await stack.publisherAPI.send(.delete, "\(connections)/\(id)?code=4200&reason=maintenance").status == .noContent)
            #expect(await client.closeCode(within: 5) == WebSocketErrorCode(codeNumber: 4200))
            #expect(try await stack.publisherAPI.send(.post, "\(connections)/\(id)/messages", json: "{}").status == .gone)
        }
    }

    /// The listener documents itself: an OpenAPI 3.1 document of both shapes, no key needed.
    @Test func theManagementAPIIsDocumented() async throws {
        try await GatewayStack.run { stack in
            let (status, body) = try await HTTP.send("GET", "\(stack.managementURL)/openapi.json")
            #expect(status == 200)
            let document = HTTP.json(body)
            #expect(document["openapi"].string?.hasPrefix("3.1") == true)
            let paths = Set(document["paths"].object?.keys.map { $0 } ?? [])
            #expect(
                paths.isSuperset(of: [
                    "/{context}/{version}/@connections/{connectionId}", "/apigateways/websocket/v1/connections/{connectionId}",
                    "/apigateways/websocket/v1/connections/{connectionId}:send",
                ])
            )
        }
    }
}
