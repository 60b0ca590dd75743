import Testing

@testable import PorticoCore

@Suite struct APISpecTests {
    @Test(arguments: ["/echowebsocket", "/a/b-c/d.e_f~g", "/v1"])
    func cleanContextsPass(context: String) throws {
        try APISpec.validateContext(context)
    }

    @Test(arguments: ["echo", "/", "/echo/", "//echo", "/a//b", "/a/../b", "/a/./b", "/a b", "/a?x=1", "/a#f", "/é"])
    func uncleanContextsAreRefused(context: String) {
        let error = #expect(throws: FieldError.self) { try APISpec.validateContext(context) }
        #expect(error?.field == "context")
    }

    @Test(arguments: ["", "1.0/0", "..", "1 0", String(repeating: "1", count: 31)])
    func badVersionsAreRefused(version: String) {
        let error = #expect(throws: FieldError.self) { try APISpec.validateVersion(version) }
        #expect(error?.field == "version")
    }

    @Test(arguments: ["http://h/x", "ws://", "ws:///path", "localhost:9000", "ws://h/#frag", "not a url"])
    func endpointsMustBeWebSocketURLsWithAHost(url: String) {
        let error = #expect(throws: FieldError.self) { try APISpec.validateEndpoint(url, field: "f") }
        #expect(error?.field == "f")
    }

    @Test(arguments: ["ws://127.0.0.1:9100", "wss://echo.example.com/socket?x=1", "WS://h"])
    func webSocketEndpointsPass(url: String) throws {
        try APISpec.validateEndpoint(url, field: "f")
    }

    @Test func nameMustBeNonEmptyAndTrimmed() {
        for name in ["", " Echo", "Echo ", String(repeating: "x", count: 101), "a\u{7}b"] {
            #expect(throws: FieldError.self) { try APISpec.validateName(name) }
        }
    }
}
