/// What one side of a relayed connection needs of the other, and what the connection
/// (`RelayedConnection`: its close actions, its timers) needs of its backend side. A proxied API's
/// sides are both `RelayHandler`s on WebSocket channels; an API with routes has a `RoutePeer` as
/// its backend side, and the client's handler does not change.
protocol RelayPeer: AnyObject {
    /// A frame from the other side, to write; it goes out at the next `flushRelayed`.
    func relay(_ frame: WireFrame)
    /// Pushes out what `relay` was given since the last flush.
    func flushRelayed()
    /// Whether it takes more now. When it does not, the other side stops reading until this peer
    /// calls its `peerTakesMore`.
    var takesMore: Bool { get }
    /// The other side takes more again: reading resumes if it had stopped for it.
    func peerTakesMore()
    /// The gateway's own close frame; with `thenClose`, the side is shut once it is written.
    func writeClose(_ code: GatewayCloseCode, reason: String, thenClose: Bool)
    /// Closes now, what was written flushed first.
    func closeNow()
    /// The gateway's keep-alive ping: a side that did not answer the last one is closed.
    func keepAlive()
    /// The connection has ended (`end`: how, when known); called once.
    func connectionFinished(_ end: ConnectionEnd?)
}

extension RelayPeer {
    func connectionFinished(_ end: ConnectionEnd?) {}
}
