import Foundation
import PorticoCore
import PorticoTestSupport
import Testing

/// Steps 1 to 3 of the reference flow across the built `publisher` and `devportal` processes.
@Suite struct ReferenceFlowProcessTests {
    @Test func publishSubscribeAndGetATokenAcrossBothServices() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let publisherPort = ServiceProcess.freePort()
            let devportalPort = ServiceProcess.freePort()
            let shared = TestSettings.values(url, extra: ["PUBLISHER_PORT": "\(publisherPort)", "DEVPORTAL_PORT": "\(devportalPort)"])
            // Started together: both apply migrations at start, under the migrator's lock.
            let publisher = try ServiceProcess("publisher", environment: shared)
            let devportal = try ServiceProcess("devportal", environment: shared)
            let p = "http://127.0.0.1:\(publisherPort)"
            let d = "http://127.0.0.1:\(devportalPort)"
            try await publisher.waitUntilReady("\(p)/health/ready")
            try await devportal.waitUntilReady("\(d)/health/ready")
            let admin = RESTClient(SocketTransport(p), base: RESTClient.publisherBase, username: "admin", password: TestSettings.adminPassword)

            let created = try await admin.createAPI()
            #expect(created.status == .created, "\(created.text)")
            let apiID = created.id
            #expect(try await admin.lifecycle(apiID, "Publish").status == .ok)

            let dev = try await RESTClient(SocketTransport(d), base: RESTClient.devportalBase).developer("dev")
            let appID = try await dev.createApplication()
            #expect(try await dev.subscribe(appID, to: apiID).status == .created)
            let keys = try await dev.generateKeys(appID)
            let token = try await dev.token(keys.consumerKey, keys.consumerSecret)
            #expect(token.status == .ok)
            #expect(token["access_token"].string?.split(separator: ".").count == 3)

            // A subscribed API cannot be deleted.
            try await admin.send(.delete, "apis/\(apiID)").expectError(.conflict)

            // Rotation from the command line, while the devportal runs.
            let rotate = try ServiceProcess("devportal", ["rotate-signing-key"], environment: shared)
            #expect(await rotate.waitForExit(seconds: 60) == 0, "\(rotate.output)")
            #expect(rotate.output.contains("active signing key:") && rotate.output.contains("retired:"), "\(rotate.output)")
            #expect(try await dev.send(.get, "/oauth2/jwks")["keys"].array.count == 2)

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
