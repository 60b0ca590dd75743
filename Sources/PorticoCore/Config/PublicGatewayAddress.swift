/// Where clients reach the gateway (`GATEWAY_PUBLIC_HOST`, `GATEWAY_PORT`, `GATEWAY_TLS_PORT`): the
/// one source of the `ws://` and `wss://` URLs that the devportal's catalog, its pages and the
/// publisher console show.
package struct PublicGatewayAddress: Sendable {
    package var host: String
    package var port: Int
    package var tlsPort: Int

    package init(host: String, port: Int, tlsPort: Int) {
        self.host = host
        self.port = port
        self.tlsPort = tlsPort
    }

    /// An API's URLs over ws and wss: `path` is its context, with `/version` unless it is the
    /// default version's bare context.
    package func urls(path: String) -> (ws: String, wss: String) {
        ("ws://\(host):\(port)\(path)", "wss://\(host):\(tlsPort)\(path)")
    }
}
