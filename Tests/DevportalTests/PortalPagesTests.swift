import Foundation
import Hummingbird
import PorticoCore
import PorticoTestSupport
import Testing

@testable import devportal

/// The developer portal's own REST operation (the console's try-out token) and what its pages take
/// from settings; the whole portal runs in a browser in `BrowserTutorialTests`.
@Suite struct PortalPagesTests {
    @Test func aTryOutTokenIsShortLivedAndOnlyForTheOwner() async throws {
        try await DevportalHarness.run { anonymous, provider in
            let api = try await provider.api()
            let dev = try await anonymous.developer("dev")
            let app = try await dev.createApplication()
            try await dev.send(.post, "applications/\(app)/try-out-token", json: "{}").expectError(.conflict, mentioning: "generate them first")
            _ = try await dev.subscribe(app, to: api.id)
            _ = try await dev.generateKeys(app)
            try await dev.send(.post, "applications/\(app)/try-out-token", json: #"{"validityPeriod":301}"#)
                .expectError(.badRequest, mentioning: "'validityPeriod'")
            try await dev.send(.post, "applications/\(app)/try-out-token", json: #"{"keyType":"STAGING"}"#)
                .expectError(.badRequest, mentioning: "'keyType'")
            try await dev.send(.post, "applications/\(app)/try-out-token", json: #"{"keyType":"SANDBOX"}"#).expectError(.conflict)

            let reply = try await dev.send(.post, "applications/\(app)/try-out-token", json: "{}")
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply["validityTime"].int == 300)
            let token = try #require(reply["accessToken"].string)
            let jwks = try await anonymous.send(.get, "/oauth2/jwks").body
            let claims = try IndependentJWT.verify(token, jwks: jwks)
            let lifetime = (claims["exp"].int ?? 0) - (claims["iat"].int ?? 0)
            #expect(lifetime == 300, "an ordinary token of the keys, living 300 s")
            #expect(claims["application"]["id"].string == app)
            #expect(claims["keytype"].string == "PRODUCTION")

            let other = try await anonymous.developer("other")
            try await other.send(.post, "applications/\(app)/try-out-token", json: "{}").expectError(.notFound)
            try await anonymous.send(.post, "applications/\(app)/try-out-token", json: "{}").expectError(.unauthorized)
        }
    }

    @Test func withSignUpSwitchedOffThePortalOffersNone() async throws {
        try await DevportalHarness.run(settings: ["PORTICO_SIGNUP_ENABLED": "false"]) { anonymous, provider in
            let api = try await provider.api()
            let page = try await anonymous.send(.get, "/devportal/apis/\(api.id)")
            #expect(page.status == .ok)
            #expect(!page.text.contains("/devportal/signup"), "no sign-up link")
            #expect(page.text.contains("50000 events per day"), "the plans' limits, in words")
            #expect(page.text.contains("-H &quot;Authorization: Bearer $TOKEN&quot;"), "the wscat commands, before a token")
            let signup = try await anonymous.send(.get, "/devportal/signup")
            #expect(signup.status == .forbidden)
            #expect(signup.text.contains("Self sign-up is switched off on this devportal"))
        }
    }

    @Test func theConsoleAsksTheGatewayWhyAHandshakeWasRefused() {
        let refusal = ByteBuffer(
            string: "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 51\r\n\r\n"
                + #"{"code":"subscription_blocked","message":"Blocked"}"#
        )
        #expect(HandshakeProbe.complete(refusal))
        #expect(HandshakeProbe.outcome(of: refusal) == .init(status: 403, reason: "Blocked"))
        var partial = refusal
        partial.moveWriterIndex(to: refusal.writerIndex - 5)
        #expect(!HandshakeProbe.complete(partial), "waits for the whole body")
        #expect(HandshakeProbe.outcome(of: ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\n\r\n")).status == 101)
        #expect(HandshakeProbe.outcome(of: ByteBuffer(string: "SSH-2.0-OpenSSH\r\n")).status == 0)
    }
}
