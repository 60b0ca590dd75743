import Foundation
import PorticoCore
import PorticoTestSupport
import Testing

/// An https integration is verified against the API's CA file (`endpointConfig.ca_file`), and,
/// without one, against the system's roots — which a self-signed integration does not pass.
@Suite struct HTTPSIntegrationProcessTests {
    /// A small https server (Python's, on a port of its own) that answers every POST with "secure".
    static func server(port: Int, certificate: URL) throws -> ServiceProcess {
        let script = """
            import http.server, ssl, sys
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", "6")
                    self.end_headers()
                    self.wfile.write(b"secure")
                def log_message(self, *args):
                    pass
            server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(sys.argv[2], sys.argv[3])
            # The handshake in the request's thread, not in accept(): a client that connects and
            # says nothing must not stop the server.
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
            server.serve_forever()
            """
        return try ServiceProcess(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c", script, "\(port)", certificate.appendingPathComponent("cert.pem").path,
                certificate.appendingPathComponent("key.pem").path,
            ],
            environment: [:]
        )
    }

    @Test func anHTTPSIntegrationIsVerifiedAgainstTheAPIsCAFile() async throws {
        try await GatewayTLSTests.withCertificate { directory in
            let port = ServiceProcess.freePort()
            let server = try Self.server(port: port, certificate: directory)
            defer { server.kill() }
            #expect(
                await eventually(within: 10) {
                    guard let probe = try? await RawConnection("ws://127.0.0.1:\(port)") else { return false }
                    probe.close()
                    return true
                },
                "the https server started"
            )
            try await GatewayStack.run { stack in
                let route = #"[{"routeKey":"$default","twoWay":true,"integration":{"type":"HTTP","url":"https://127.0.0.1:\#(port)/"}}]"#
                var ids: [String] = []
                for (name, caFile) in [("Trusted", directory.appendingPathComponent("cert.pem").path), ("Untrusted", nil)] {
                    let endpoint = caFile.map { #"{"ca_file":"\#($0)"}"# } ?? "null"
                    let reply = try await stack.publisherAPI.createAPI(
                        json:
                            #"{"name":"\#(name)","context":"/\#(name.lowercased())","version":"1","policies":["Gold"],"endpointConfig":\#(endpoint),"routes":\#(route)}"#
                    )
                    #expect(reply.status == .created, "\(reply.text)")
                    try await stack.lifecycle(reply.id, "Publish")
                    try await stack.subscribe(stack.applicationID, to: reply.id)
                    ids.append(reply.id)
                }
                try await stack.settle()
                let trusted = try await TestClient.connect("\(stack.gatewayURL)/trusted/1?access_token=\(stack.token)")
                try await trusted.socket.send("hello")
                #expect(await trusted.waitFor { $0.texts.contains("secure") }, "\(trusted.texts)")
                let untrusted = try await TestClient.connect("\(stack.gatewayURL)/untrusted/1?access_token=\(stack.token)")
                try await untrusted.socket.send("hello")
                #expect(await untrusted.waitFor { $0.texts.contains { $0.contains("Internal server error") } }, "\(untrusted.texts)")
            }
        }
    }
}
