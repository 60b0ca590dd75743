import Foundation

/// A subscription business plan (WSO2: a streaming subscription throttling policy).
package struct BusinessPlan: Sendable, Equatable {
    /// The unit of the plan's event window.
    package enum TimeUnit: String, Codable, Sendable, CaseIterable {
        case second = "sec"
        case minute = "min"
        case hour, day
    }

    /// Events (frames, either direction) allowed per `unitTime` × `timeUnit`.
    package struct EventLimit: Sendable, Equatable {
        package var eventCount: Int64
        package var timeUnit: TimeUnit
        package var unitTime: Int

        package init(eventCount: Int64, timeUnit: TimeUnit, unitTime: Int) {
            self.eventCount = eventCount
            self.timeUnit = timeUnit
            self.unitTime = unitTime
        }

        /// The limit stored as three nullable columns; nil (no limit) when any is missing.
        package init?(eventCount: Int64?, timeUnit: String?, unitTime: Int?) {
            guard let eventCount, let unit = timeUnit.flatMap(TimeUnit.init(rawValue:)), let unitTime else { return nil }
            self.init(eventCount: eventCount, timeUnit: unit, unitTime: unitTime)
        }

        /// The window's length in seconds.
        package var seconds: Double {
            let unit: Double =
                switch timeUnit {
                case .second: 1
                case .minute: 60
                case .hour: 3600
                case .day: 86_400
                }
            return unit * Double(unitTime)
        }
    }

    /// What happens to an event over the plan's limit.
    package enum ExcessAction: String, Codable, Sendable, CaseIterable {
        /// The message is dropped; the client receives `{"error":"rate_limited","code":4003,"retryAfterMs":N}`.
        case drop
        /// The connection is closed with 4003.
        case close
    }

    /// Which relayed messages count as events.
    package enum CountedDirections: String, Codable, Sendable, CaseIterable {
        case both
        case clientToBackend = "client_to_backend"
        case backendToClient = "backend_to_client"

        package var countsClientToBackend: Bool { self != .backendToClient }
        package var countsBackendToClient: Bool { self != .clientToBackend }
    }

    package var id: String
    package var name: String
    package var displayName: String
    package var description: String
    /// nil: no event limit.
    package var eventLimit: EventLimit?
    /// Concurrent connections per subscription; 0: no cap.
    package var maxConnections: Int
    /// The largest message (and frame) a connection under this plan may send either way; nil: the
    /// API's limit, else the gateway default.
    package var maxMessageBytes: Int?
    package var excessAction: ExcessAction
    package var countedDirections: CountedDirections

    package init(
        id: String,
        name: String,
        displayName: String,
        description: String,
        eventLimit: EventLimit?,
        maxConnections: Int,
        maxMessageBytes: Int? = nil,
        excessAction: ExcessAction = .drop,
        countedDirections: CountedDirections = .both
    ) {
        self.id = id
        self.name = name
        self.displayName = displayName
        self.description = description
        self.eventLimit = eventLimit
        self.maxConnections = maxConnections
        self.maxMessageBytes = maxMessageBytes
        self.excessAction = excessAction
        self.countedDirections = countedDirections
    }

    /// The largest message size a plan or API may set (64 MiB).
    package static let messageBytesRange = 1...67_108_864
}
