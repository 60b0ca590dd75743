import Testing

@testable import PorticoCore
@testable import gateway

@Suite struct EventLoopsTests {
    /// One loop per CPU the gateway may run on, as `/proc/self/status` lists them.
    @Test func cpusAllowedCountsTheAffinityList() {
        func count(_ list: String) -> Int? { EventLoops.cpusAllowed(status: "Name:\tgateway\nCpus_allowed_list:\t\(list)\nMems_allowed:\t1\n") }
        #expect(count("1") == 1)
        #expect(count("0-1") == 2)
        #expect(count("0,2-3") == 3)
        #expect(count("0-3,8-11") == 8)
        #expect(count("3-1") == nil)
        #expect(count("x") == nil)
        #expect(EventLoops.cpusAllowed(status: "Name:\tgateway\n") == nil)
    }

    @Test func theSettingOverridesTheDefault() throws {
        let base = ["DATABASE_URL": "postgres://portico@127.0.0.1:1/portico"]
        #expect(try GatewaySettings(source: SettingsSource(values: base)).eventLoops == EventLoops.available)
        #expect(try GatewaySettings(source: SettingsSource(values: base.merging(["GATEWAY_EVENT_LOOPS": "3"]) { $1 })).eventLoops == 3)
        #expect(throws: (any Error).self) { try GatewaySettings(source: SettingsSource(values: base.merging(["GATEWAY_EVENT_LOOPS": "0"]) { $1 })) }
    }
}
