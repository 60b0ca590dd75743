import NIOCore
import Testing

@testable import gateway

/// Every transition of a connection's close handshake, without a socket: what happened in, what
/// the relay must do out (docs/gateway.md, "Close codes").
@Suite struct ConnectionLifeTests {
    private func linked() -> ConnectionLife {
        var life = ConnectionLife()
        life.link()
        let step1 = life.settleLink()
        #expect(step1.isEmpty)
        return life
    }

    @Test func aCloseFromOneSideIsRelayedAndTheAnswerCompletesTheHandshake() {
        for side in RelaySide.allCases {
            var life = linked()
            let step2 = life.closeRead(from: side, code: 1000, reason: "bye")
            #expect(step2 == [.relayClose(to: side.other), .armGrace])
            #expect(life[side.other].closeSent && !life[side.other].closedByGateway)
            #expect(life.end?.code == 1000 && life.end?.initiator == side.initiator && life.end?.reason == "bye")
            let step3 = life.closeRead(from: side.other, code: 1000, reason: "")
            #expect(step3 == [.relayClose(to: side), .closeChannel(side), .closeChannel(side.other)])
            #expect(life.end?.initiator == side.initiator, "the first close decides")
            let step4 = life.gone(side)
            #expect(step4.isEmpty)
            let step5 = life.gone(side.other)
            #expect(step5 == [.finish])
            #expect(life.finished)
        }
    }

    @Test func theGatewaysCloseGoesToBothSidesOnceAndTheAnswersCloseThem() {
        var life = linked()
        let step6 = life.gatewayCloses(.forbidden, reason: "subscription blocked")
        #expect(
            step6 == [
                .sendClose(.client, .forbidden, reason: "subscription blocked", thenClose: false),
                .sendClose(.backend, .goingAway, reason: "closed by the gateway", thenClose: false), .armGrace,
            ]
        )
        #expect(life.closingByGateway)
        #expect(life.end?.code == 4002 && life.end?.initiator == .gateway)
        let step7 = life.gatewayCloses(.goingAway, reason: "again")
        #expect(step7.isEmpty, "once")
        let step8 = life.closeRead(from: .client, code: 4002, reason: "")
        #expect(step8 == [.closeChannel(.client)])
        let step9 = life.closeRead(from: .backend, code: 1001, reason: "")
        #expect(step9 == [.closeChannel(.backend)])
        #expect(life.end?.code == 4002)
    }

    @Test func aGoingAwayCloseTellsTheBackendItsReason() {
        var life = linked()
        let step10 = life.gatewayCloses(.goingAway, reason: "idle timeout")
        #expect(step10[1] == .sendClose(.backend, .goingAway, reason: "idle timeout", thenClose: false))
    }

    @Test func aVanishedClientIsA1001ForTheBackendAndAVanishedBackendA1011ForTheClient() {
        var life = linked()
        let step11 = life.gone(.client)
        #expect(step11 == [.sendClose(.backend, .goingAway, reason: "client went away", thenClose: true)])
        #expect(life.end?.vanished == true && life.end?.code == nil && life.end?.initiator == .client)
        let step12 = life.gone(.backend)
        #expect(step12 == [.finish])

        life = linked()
        let step13 = life.gone(.backend)
        #expect(step13 == [.sendClose(.client, .backendFailed, reason: "backend went away", thenClose: true)])
        #expect(life.end?.usageError == .backend)
    }

    @Test func aSideGoneAfterTheCloseHandshakeOrTheGatewaysCloseTellsNoOne() {
        var life = linked()
        _ = life.closeRead(from: .client, code: 1000, reason: "")
        _ = life.closeRead(from: .backend, code: 1000, reason: "")
        let step14 = life.gone(.backend)
        #expect(step14.isEmpty)

        life = linked()
        _ = life.failed(.backend, .messageTooBig, reason: "big", otherSideReason: "peer big")
        let step15 = life.gone(.backend)
        #expect(step15.isEmpty, "the client was already told 1001")
    }

    /// The bug of the first design: a backend over the size limit gets 1009, the client 1001 —
    /// and the backend's socket closing afterwards sends the client nothing more (it got 1011).
    @Test func aSideOverALimitGetsItsCodeAndTheOtherSide1001() {
        for side in RelaySide.allCases {
            var life = linked()
            let step16 = life.failed(
                side,
                .messageTooBig,
                reason: "message larger than 10 bytes",
                otherSideReason: "peer sent a message larger than 10 bytes"
            )
            #expect(
                step16 == [
                    .sendClose(side, .messageTooBig, reason: "message larger than 10 bytes", thenClose: true),
                    .sendClose(side.other, .goingAway, reason: "peer sent a message larger than 10 bytes", thenClose: true),
                ]
            )
            #expect(life.end?.code == 1009 && life.end?.initiator == .gateway)
            let step17 = life.gone(side)
            #expect(step17.isEmpty)
            let step18 = life.failed(side, .protocolError, reason: "later", otherSideReason: "x")
            #expect(step18.isEmpty, "a side sent a close fails no more")
        }
    }

    @Test func aClientsProtocolErrorWaitsForTheBackendsAnswer() {
        var life = linked()
        let step19 = life.failed(
            .client,
            .protocolError,
            reason: "reserved bits",
            otherSideReason: "peer broke the WebSocket protocol",
            inOrder: true
        )
        #expect(
            step19 == [
                .sendClose(.backend, .goingAway, reason: "peer broke the WebSocket protocol", thenClose: false), .armGrace,
            ]
        )
        #expect(life.client.writable, "the backend's last answers still reach the client")
        let step20 = life.failed(.client, .invalidPayload, reason: "again", otherSideReason: "x", inOrder: true)
        #expect(step20.isEmpty)
        let step21 = life.closeRead(from: .backend, code: 1001, reason: "")
        #expect(
            step21 == [
                .sendClose(.client, .protocolError, reason: "reserved bits", thenClose: true), .closeChannel(.backend),
            ]
        )
        #expect(life.end?.code == 1002 && life.end?.initiator == .gateway)
    }

    @Test func aClientsProtocolErrorIsSentWhenTheBackendVanishesInstead() {
        var life = linked()
        _ = life.failed(.client, .invalidPayload, reason: "not UTF-8", otherSideReason: "broke", inOrder: true)
        let step22 = life.gone(.backend)
        #expect(step22 == [.sendClose(.client, .invalidPayload, reason: "not UTF-8", thenClose: true)])
    }

    @Test func aClientsProtocolErrorAfterTheBackendClosedIsSentAtOnce() {
        var life = linked()
        _ = life.closeRead(from: .client, code: 1000, reason: "")
        let step23 = life.failed(.client, .protocolError, reason: "bad", otherSideReason: "broke", inOrder: true)
        #expect(
            step23 == [
                .sendClose(.client, .protocolError, reason: "bad", thenClose: true), .closeChannel(.backend),
            ]
        )
    }

    /// Before the link only the backend's side exists: the client's close waits for it, and comes
    /// after the frames the backend sent first.
    @Test func whatTheClientIsToldBeforeTheLinkWaitsForIt() {
        var life = ConnectionLife()
        let step24 = life.failed(.backend, .protocolError, reason: "invalid control frame", otherSideReason: "peer broke the WebSocket protocol")
        #expect(
            step24 == [
                .sendClose(.backend, .protocolError, reason: "invalid control frame", thenClose: true)
            ]
        )
        life.link()
        let step25 = life.settleLink()
        #expect(step25 == [.sendClose(.client, .goingAway, reason: "peer broke the WebSocket protocol", thenClose: true)])
        let step26 = life.settleLink()
        #expect(step26.isEmpty)
    }

    @Test func aBackendGoneBeforeTheLinkIsA1011ForTheClientAtTheLink() {
        var life = ConnectionLife()
        let step27 = life.gone(.backend)
        #expect(step27.isEmpty)
        life.link()
        let step28 = life.settleLink()
        #expect(step28 == [.sendClose(.client, .backendFailed, reason: "backend went away", thenClose: true)])
    }

    @Test func anAbandonedHandshakeFinishesOnce() {
        var life = ConnectionLife()
        let step29 = life.abandon()
        #expect(step29 == [.finish])
        let step30 = life.abandon()
        #expect(step30.isEmpty)
        let step31 = life.gatewayCloses(.goingAway, reason: "shutdown")
        #expect(step31.isEmpty)
    }

    @Test func aSideThatCannotBeSentACloseIsClosedWhenAskedTo() {
        var life = linked()
        _ = life.closeRead(from: .backend, code: 1000, reason: "")
        // The client was relayed the backend's close; the backend's socket then vanishes.
        let step32 = life.gone(.backend)
        #expect(step32 == [.closeChannel(.client)])
    }
}

@Suite struct MessageFateTests {
    @Test func aMessageIsMeasuredAcrossItsFramesAgainstTheLimit() {
        var fate = MessageFate()
        let step33 = fate.read(startsMessage: true, length: 6, limit: 10) { true }
        #expect(step33 == .relay)
        let step34 = fate.read(startsMessage: false, length: 4, limit: 10) { true }
        #expect(step34 == .relay)
        let step35 = fate.read(startsMessage: false, length: 1, limit: 10) { true }
        #expect(step35 == .tooBig)
        let step36 = fate.read(startsMessage: true, length: 10, limit: 10) { true }
        #expect(step36 == .relay, "a new message starts at zero")
    }

    @Test func aMessageOverTheRateIsDroppedWithAllItsFrames() {
        var fate = MessageFate()
        var asked = 0
        let step37 = fate.read(startsMessage: true, length: 1, limit: 10) {
            asked += 1
            return false
        }
        #expect(step37 == .drop)
        let step38 = fate.read(startsMessage: false, length: 1, limit: 10) {
            asked += 1
            return true
        }
        #expect(step38 == .drop)
        #expect(asked == 2, "every frame is activity")
        let step39 = fate.read(startsMessage: true, length: 1, limit: 10) { true }
        #expect(step39 == .relay)
        let step40 = fate.read(startsMessage: true, length: 11, limit: 10) {
            Issue.record("not asked over the limit")
            return true
        }
        #expect(step40 == .tooBig)
    }

    @Test func theGatewaysOwnMessagesWaitForAHalfWrittenMessage() {
        var fate = MessageFate()
        let hello = MessageFate.Outgoing.message(ByteBuffer(string: "hello"), binary: false)
        let first = fate.send(.notice(retryAfterMs: 5))
        #expect(first == .now, "nothing half written")
        let none = fate.wrote(fin: false)
        #expect(none.isEmpty)
        let queued = [fate.send(.notice(retryAfterMs: 7)), fate.send(hello), fate.send(.notice(retryAfterMs: 9))]
        #expect(queued == [.waits, .waits, .waits])
        let stillNone = fate.wrote(fin: false)
        #expect(stillNone.isEmpty)
        let due = fate.wrote(fin: true)
        #expect(due == [.notice(retryAfterMs: 9), hello], "in order, the latest notice in the first's place")
        let after = fate.wrote(fin: true)
        #expect(after.isEmpty)
        let last = fate.send(hello)
        #expect(last == .now)
    }

    @Test func waitingMessagesAreBounded() {
        var fate = MessageFate()
        _ = fate.wrote(fin: false)
        for _ in 0..<MessageFate.maxWaiting {
            let sent = fate.send(.message(ByteBuffer(string: "x"), binary: true))
            #expect(sent == .waits)
        }
        let over = fate.send(.message(ByteBuffer(string: "x"), binary: true))
        #expect(over == .full)
    }
}
