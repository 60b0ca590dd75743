/// One side of a relayed connection.
enum RelaySide: String, Sendable, CaseIterable {
    case client, backend

    var other: RelaySide { self == .client ? .backend : .client }

    var initiator: ConnectionEnd.Initiator { self == .client ? .client : .backend }
}

/// How a relayed connection ends, both sides at once, with no I/O: each `mutating` method takes
/// what happened (a close frame read from a side, a side gone, a side breaking the protocol or a
/// limit, the gateway's own decision) and returns what the relay must do about it. The relay's
/// handlers only execute the actions (`RelayedConnection.run`).
///
/// A side moves through: open → sent a close (by the gateway, or relayed from the other side) and/or
/// sent us one → gone. The connection is *linked* once both sides' handlers exist (before, the
/// backend's side alone exists: what the client is to be told waits for the link), *closing by the
/// gateway* once the gateway decided to end it (a live change, a limit, shutdown), and finished
/// once both sides are gone or the handshake was abandoned.
struct ConnectionLife {
    struct SideState: Equatable {
        /// This side sent a close frame.
        var closeReceived = false
        /// A close frame went to this side: relayed from the other side, or the gateway's own.
        var closeSent = false
        /// The close frame this side got was the gateway's own decision (a limit, a protocol error,
        /// a live change), so the other side has been told what it gets: this side's end says nothing more.
        var closedByGateway = false
        /// Its channel is closed.
        var gone = false

        /// Frames may still be written to this side: nothing follows a close frame.
        var writable: Bool { !gone && !closeSent }
    }

    enum Action: Equatable {
        /// Write the gateway's own close frame to the side; with `thenClose`, shut the side once it is
        /// written (its output closed, its input drained until it closes) and start the close grace,
        /// after which both sockets are dropped whether the frame went out or not.
        case sendClose(RelaySide, GatewayCloseCode, reason: String, thenClose: Bool)
        /// Relay the close frame just read to this side.
        case relayClose(to: RelaySide)
        /// Close the side's channel now (its close handshake is done, or it cannot be sent one).
        case closeChannel(RelaySide)
        /// Drop both sockets if the close handshake has not finished within `closeGrace`.
        case armGrace
        /// Give back what the connection holds, hand over its usage and write its log line.
        case finish
    }

    private(set) var client = SideState()
    private(set) var backend = SideState()
    private(set) var linked = false
    private(set) var closingByGateway = false
    private(set) var finished = false
    /// The first close decides how the connection ended; later ones (the answer, the other side) do not.
    private(set) var end: ConnectionEnd?
    /// The client broke the protocol: it gets this close once the backend has answered the gateway's
    /// 1001 — so that what the backend still sends, the answers to the client's earlier messages,
    /// reaches the client first, in order, as from a backend alone.
    private var failing: (code: GatewayCloseCode, reason: String)?
    /// Closes for the client decided before the link (a backend that broke a rule with its 101).
    private var beforeLink: [(code: GatewayCloseCode, reason: String)] = []

    subscript(side: RelaySide) -> SideState {
        get { side == .client ? client : backend }
        set { if side == .client { client = newValue } else { backend = newValue } }
    }

    /// Both handlers exist: from now on the client side can be written to.
    mutating func link() {
        linked = true
    }

    /// Once the frames the backend sent before the link are relayed: what was decided for the
    /// client meanwhile, or, when the backend is already gone, what its going means for the client.
    mutating func settleLink() -> [Action] {
        var actions: [Action] = []
        for (code, reason) in beforeLink { actions += send(.client, code, reason: reason, thenClose: true) }
        beforeLink = []
        if backend.gone { actions += tellOtherSide(backendGone: true) }
        return actions
    }

    /// The gateway ends the connection (a live change, a limit, a timer, shutdown): `code` to the
    /// client, 1001 to the backend, both waiting for the sides' answers.
    mutating func gatewayCloses(_ code: GatewayCloseCode, reason: String) -> [Action] {
        guard !closingByGateway, !(client.gone && backend.gone), !finished else { return [] }
        closingByGateway = true
        record(code.rawValue, by: .gateway, reason: reason)
        return send(.client, code, reason: reason, thenClose: false)
            + send(.backend, .goingAway, reason: code == .goingAway ? reason : "closed by the gateway", thenClose: false)
            + [.armGrace]
    }

    /// A close frame read from `side` (its code, if any, and reason already checked by the frame rules).
    mutating func closeRead(from side: RelaySide, code: UInt16?, reason: String) -> [Action] {
        self[side].closeReceived = true
        record(code, by: side.initiator, reason: reason)
        if closingByGateway {
            // The answer to the gateway's own close: the handshake is done on this side.
            return [.closeChannel(side)]
        }
        if side == .backend, let failure = failing {
            // The answer to the 1001 the gateway sent because the client broke the protocol: the
            // backend's close handshake is done, and the client now gets its own code.
            failing = nil
            return send(.client, failure.code, reason: failure.reason, thenClose: true) + [.closeChannel(.backend)]
        }
        let other = side.other
        var actions: [Action] = self[other].writable ? [.relayClose(to: other)] : []
        self[other].closeSent = true
        if self[other].closeReceived {
            // Both directions have closed: the close handshake is complete.
            actions += [.closeChannel(other), .closeChannel(side)]
        } else {
            actions.append(.armGrace)
        }
        return actions
    }

    /// `side` broke the protocol or a limit: it gets `code`, the other side 1001. With `inOrder` (a
    /// client's frame that breaks RFC 6455), the backend is closed first and what it still sends is
    /// relayed; the client's code follows the backend's answer, or the grace period's end. Once a
    /// side was sent a close, what it does wrong changes nothing: the close is on its way.
    mutating func failed(
        _ side: RelaySide,
        _ code: GatewayCloseCode,
        reason: String,
        otherSideReason: String,
        inOrder: Bool = false
    ) -> [Action] {
        guard !self[side].closeSent, !(side == .client && failing != nil) else { return [] }
        if inOrder, side == .client, backend.writable {
            failing = (code, reason)
            record(code.rawValue, by: .gateway, reason: reason)
            return send(.backend, .goingAway, reason: otherSideReason, thenClose: false) + [.armGrace]
        }
        return send(side, code, reason: reason, thenClose: true)
            + send(side.other, .goingAway, reason: otherSideReason, thenClose: true)
    }

    /// `side`'s channel closed. The other side learns promptly: 1001 to the backend when the client
    /// vanished, 1011 to the client when the backend did — unless the close handshake already ran,
    /// or the gateway closed this side itself (then it has told the other side what it gets). Once
    /// both sides are gone, the connection finishes.
    mutating func gone(_ side: RelaySide) -> [Action] {
        self[side].gone = true
        record(nil, by: side.initiator, reason: "\(side.rawValue) went away without a close frame", vanished: true)
        var actions = client.gone && backend.gone ? finish() : []
        if linked { actions += tellOtherSide(backendGone: side == .backend) }
        return actions
    }

    /// A handshake that failed after admission: gives back what it took.
    mutating func abandon() -> [Action] {
        finish()
    }

    private mutating func tellOtherSide(backendGone: Bool) -> [Action] {
        let side: RelaySide = backendGone ? .backend : .client
        if backendGone, let failure = failing {
            failing = nil
            return send(.client, failure.code, reason: failure.reason, thenClose: true)
        }
        let other = side.other
        guard !self[other].gone, !self[side].closedByGateway, !(self[side].closeReceived && self[side].closeSent) else { return [] }
        return send(
            other,
            backendGone ? .backendFailed : .goingAway,
            reason: backendGone ? "backend went away" : "client went away",
            thenClose: true
        )
    }

    private mutating func finish() -> [Action] {
        guard !finished else { return [] }
        finished = true
        return [.finish]
    }

    /// The gateway's own close frame to `side`, once: nothing follows a close frame. A side that
    /// cannot be sent one any more is closed at once when `thenClose` asks for it.
    private mutating func send(_ side: RelaySide, _ code: GatewayCloseCode, reason: String, thenClose: Bool) -> [Action] {
        if side == .client && !linked {
            beforeLink.append((code, reason))
            return []
        }
        guard self[side].writable else { return thenClose && !self[side].gone ? [.closeChannel(side)] : [] }
        self[side].closeSent = true
        self[side].closedByGateway = true
        record(code.rawValue, by: .gateway, reason: reason)
        return [.sendClose(side, code, reason: reason, thenClose: thenClose)]
    }

    /// `code` is nil when none was on the wire: an empty close frame, or a side that `vanished`.
    private mutating func record(_ code: UInt16?, by initiator: ConnectionEnd.Initiator, reason: String, vanished: Bool = false) {
        guard end == nil else { return }
        end = ConnectionEnd(code: code, initiator: initiator, reason: reason, vanished: vanished)
    }
}
