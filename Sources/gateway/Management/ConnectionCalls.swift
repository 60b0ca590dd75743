import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PorticoCore
import ServiceLifecycle

/// Connection management across gateways, through PostgreSQL alone (`ConnectionCallStore`): a
/// call made to this gateway for a connection another gateway holds is placed for that gateway and
/// waited for (`forward`); a call placed for this gateway is executed here (`ConnectionOperations`)
/// and answered. Both ends listen on `portico_connection_calls`.
final class ConnectionCalls: Service, Sendable {
    let store: ConnectionCallStore
    let operations: ConnectionOperations
    let logger: Logger
    /// How long a caller waits for the holder's answer.
    static let answerTimeout: Duration = .seconds(5)
    private let waiting = NIOLockedValueBox<[String: CheckedContinuation<Bool, Never>]>([:])
    /// Answers that arrived before their caller began to wait.
    private let early = NIOLockedValueBox<Set<String>>([])

    init(store: ConnectionCallStore, operations: ConnectionOperations, logger: Logger) {
        self.store = store
        self.operations = operations
        self.logger = logger
    }

    private var node: String { operations.node }

    /// The other gateway holding connection `id`; nil when this one holds it, or none does. A
    /// connection is in the live-connection list from its holder's next cluster sync: a backend
    /// that calls as soon as its handshake came in would find it nowhere yet, so a miss is looked
    /// up again for three sync intervals before it stands.
    func locate(_ id: String, syncInterval milliseconds: Int) async throws -> String? {
        let deadline = ContinuousClock.now + .milliseconds(3 * milliseconds + 100)
        while true {
            if operations.connections.find(id) != nil { return nil }
            if let node = try await store.node(of: id, freshness: ClusterStateStore.nodeFreshness), node != self.node { return node }
            guard ContinuousClock.now < deadline else { return nil }
            try await pause(for: .milliseconds(max(20, milliseconds / 2)))
        }
    }

    /// Carries `operation` to `node` and returns its answer; 503 when it does not answer in time.
    func forward(
        _ operation: ConnectionOperations.Operation,
        on id: String,
        to node: String,
        for caller: ConnectionOperations.Caller
    ) async throws -> ConnectionCall.Answer {
        var call = ConnectionCall(
            targetNode: node,
            originNode: self.node,
            connectionID: id,
            action: operation.action,
            shape: caller.shape.rawValue,
            keyID: caller.keyID,
            apiID: caller.apiID
        )
        switch operation {
        case .get:
            break
        case .send(let payload, let binary):
            call.message = Array(payload.readableBytesView)
            call.binary = binary
        case .disconnect(let code, let reason):
            call.closeCode = Int(code.rawValue)
            call.closeReason = reason
        }
        let callID = try await store.place(call)
        let answered = await waitForAnswer(callID)
        if answered, let answer = try await store.collect(id: callID) { return answer }
        try? await store.abandon(id: callID)
        return ConnectionOperations.answer(
            APIError(.serviceUnavailable, "ServiceUnavailableException", "The gateway holding the connection did not answer in time; retry")
        )
    }

    private func waitForAnswer(_ callID: String) async -> Bool {
        let timeout = Task {
            try? await pause(for: Self.answerTimeout)
            self.resume(callID, answered: false)
        }
        defer { timeout.cancel() }
        return await withCheckedContinuation { continuation in
            let already = early.withLockedValue { $0.remove(callID) != nil }
            if already {
                continuation.resume(returning: true)
            } else {
                waiting.withLockedValue { $0[callID] = continuation }
            }
        }
    }

    private func resume(_ callID: String, answered: Bool) {
        let continuation = waiting.withLockedValue { $0.removeValue(forKey: callID) }
        if let continuation {
            continuation.resume(returning: answered)
        } else if answered {
            // The answer came before the caller waited (or after it gave up): kept a moment.
            early.withLockedValue { set in
                if set.count > 10_000 { set.removeAll() }
                set.insert(callID)
            }
        }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.listen() }
                group.addTask {
                    // Calls whose caller died before collecting them.
                    while !Task.isCancelled {
                        try? await pause(for: .seconds(60))
                        try? await self.store.prune(olderThan: 60)
                    }
                }
                await group.waitForAll()
            }
        }
    }

    private func listen() async {
        while !Task.isCancelled {
            do {
                try await store.database.client.withConnection { connection in
                    try await connection.listen(on: ConnectionCallStore.channel) { notifications in
                        for try await notification in notifications {
                            guard let signal = try? JSONDecoder().decode(ConnectionCall.Signal.self, from: Data(notification.payload.utf8)),
                                signal.node == self.node
                            else { continue }
                            switch signal.kind {
                            case .answer: self.resume(signal.id, answered: true)
                            case .call: Task { await self.serve(signal.id) }
                            }
                        }
                    }
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("connection calls: lost PostgreSQL; retrying", metadata: ["error": "\(Database.describe(error))"])
            }
            try? await pause(for: .seconds(1))
        }
    }

    /// Executes a call another gateway placed for this one, and answers it.
    private func serve(_ callID: String) async {
        do {
            guard let call = try await store.take(id: callID, node: node) else { return }
            let operation: ConnectionOperations.Operation
            switch call.action {
            case .get: operation = .get
            case .send: operation = .send(ByteBuffer(bytes: call.message ?? []), binary: call.binary)
            case .disconnect:
                operation = .disconnect(
                    GatewayCloseCode.requested(call.closeCode ?? 1000) ?? .normalClosure,
                    reason: call.closeReason ?? "disconnected by the API"
                )
            }
            let caller = ConnectionOperations.Caller(
                shape: ConnectionManagementController.Shape(rawValue: call.shape) ?? .aws,
                keyID: call.keyID,
                apiID: call.apiID,
                via: call.originNode
            )
            let answer = await operations.execute(operation, on: call.connectionID, for: caller)
            try await store.answer(call, with: answer)
        } catch {
            logger.warning("connection calls: could not answer a call", metadata: ["error": "\(Database.describe(error))"])
        }
    }
}
