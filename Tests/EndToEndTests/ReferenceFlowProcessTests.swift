import Foundation
import PorticoCore
import PorticoTestSupport
import Testing

/// Steps 1 to 3 of the reference flow across the built `publisher` and `devportal` processes.
@Suite struct ReferenceFlowProcessTests {
    static let secretKey = SecretBox.randomKeyBase64()

    @Test func publishSubscribeAndGetATokenAcrossBothServices() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let publisherPort = ServiceProcess.freePort()
            let devportalPort = ServiceProcess.freePort()
            let shared = PublisherProcessTests.environment(
                url,
                extra: [
                    "PORTICO_ADMIN_PASSWORD": "e2e-admin-pw", "PORTICO_SECRET_KEY": Self.secretKey,
                    "PUBLISHER_PORT": "\(publisherPort)", "DEVPORTAL_PORT": "\(devportalPort)",
                ]
            )
            // Started together: both apply migrations at start, under the migrator's lock.
            let publisher = try ServiceProcess("publisher", environment: shared)
            let devportal = try ServiceProcess("devportal", environment: shared)
            let p = "http://127.0.0.1:\(publisherPort)"
            let d = "http://127.0.0.1:\(devportalPort)"
            try await publisher.waitUntilReady("\(p)/health/ready")
            try await devportal.waitUntilReady("\(d)/health/ready")
            let admin = HTTP.basic("admin", "e2e-admin-pw")

            let (_, created) = try await HTTP.send(
                "POST",
                "\(p)/api/am/publisher/v4/apis",
                body: """
                    {"name":"EchoWebSocket","context":"/echowebsocket","version":"1.0.0","policies":["Gold","Silver"],
                     "isDefaultVersion":true,"endpointConfig":{"production_endpoints":{"url":"ws://127.0.0.1:9100"}}}
                    """,
                headers: admin
            )
            let apiID = try #require(HTTP.json(created)["id"] as? String)
            #expect(
                try await HTTP.send(
                    "POST",
                    "\(p)/api/am/publisher/v4/apis/change-lifecycle?apiId=\(apiID)&action=Publish",
                    headers: admin
                ).status == 200
            )

            #expect(
                try await HTTP.send(
                    "POST",
                    "\(d)/api/am/devportal/v3/signup",
                    body: #"{"username":"dev","password":"dev-password"}"#
                ).status == 201
            )
            let dev = HTTP.basic("dev", "dev-password")
            let (_, app) = try await HTTP.send(
                "POST",
                "\(d)/api/am/devportal/v3/applications",
                body: #"{"name":"EchoClient","throttlingPolicy":"Unlimited"}"#,
                headers: dev
            )
            let appID = try #require(HTTP.json(app)["applicationId"] as? String)
            let (subscribed, _) = try await HTTP.send(
                "POST",
                "\(d)/api/am/devportal/v3/subscriptions",
                body: #"{"applicationId":"\#(appID)","apiId":"\#(apiID)","throttlingPolicy":"Gold"}"#,
                headers: dev
            )
            #expect(subscribed == 201)
            let (_, keys) = try await HTTP.send(
                "POST",
                "\(d)/api/am/devportal/v3/applications/\(appID)/generate-keys",
                body: #"{"keyType":"PRODUCTION","grantTypesToBeSupported":["client_credentials"]}"#,
                headers: dev
            )
            let keyJSON = HTTP.json(keys)
            let consumerKey = try #require(keyJSON["consumerKey"] as? String)
            let secret = try #require(keyJSON["consumerSecret"] as? String)
            let (status, tokenBody) = try await HTTP.send(
                "POST",
                "\(d)/oauth2/token",
                body: "grant_type=client_credentials",
                headers: HTTP.basic(consumerKey, secret).merging(["Content-Type": "application/x-www-form-urlencoded"]) { a, _ in a }
            )
            #expect(status == 200)
            #expect((HTTP.json(tokenBody)["access_token"] as? String)?.split(separator: ".").count == 3)

            // A subscribed API cannot be deleted.
            #expect(try await HTTP.send("DELETE", "\(p)/api/am/publisher/v4/apis/\(apiID)", headers: admin).status == 409)

            // Rotation from the command line, while the devportal runs.
            let rotate = try ServiceProcess("devportal", ["rotate-signing-key"], environment: shared)
            #expect(await rotate.waitForExit(seconds: 60) == 0, "\(rotate.output)")
            #expect(rotate.output.contains("active signing key:") && rotate.output.contains("retired:"), "\(rotate.output)")
            let (_, jwks) = try await HTTP.send("GET", "\(d)/oauth2/jwks")
            #expect((HTTP.json(jwks)["keys"] as? [Any])?.count == 2)

            publisher.terminate()
            devportal.terminate()
            #expect(await publisher.waitForExit(seconds: 30) == 0)
            #expect(await devportal.waitForExit(seconds: 30) == 0)
        }
    }

    @Test func devportalRefusesToStartWithoutASecretKeyOutsideDevelopmentMode() async throws {
        let devportal = try ServiceProcess("devportal", environment: ["PORTICO_ADMIN_PASSWORD": "long-enough"])
        #expect(await devportal.waitForExit(seconds: 30) == 2)
        #expect(devportal.output.hasPrefix("devportal: invalid setting PORTICO_SECRET_KEY: not set"), "\(devportal.output)")
        #expect(devportal.output.split(separator: "\n").count == 1)
    }
}
