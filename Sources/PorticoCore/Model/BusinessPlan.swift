import Foundation

/// A subscription business plan (WSO2: a streaming subscription throttling policy).
public struct BusinessPlan: Sendable, Equatable {
    /// The unit of the plan's event window.
    public enum TimeUnit: String, Codable, Sendable, CaseIterable {
        case second = "sec", minute = "min", hour, day
    }

    /// Events (frames, either direction) allowed per `unitTime` × `timeUnit`.
    public struct EventLimit: Sendable, Equatable {
        public var eventCount: Int64
        public var timeUnit: TimeUnit
        public var unitTime: Int

        public init(eventCount: Int64, timeUnit: TimeUnit, unitTime: Int) {
            self.eventCount = eventCount
            self.timeUnit = timeUnit
            self.unitTime = unitTime
        }

        /// The limit stored as three nullable columns; nil (no limit) when any is missing.
        public init?(eventCount: Int64?, timeUnit: String?, unitTime: Int?) {
            guard let eventCount, let unit = timeUnit.flatMap(TimeUnit.init(rawValue:)), let unitTime else { return nil }
            self.init(eventCount: eventCount, timeUnit: unit, unitTime: unitTime)
        }

        /// The window's length in seconds.
        public var seconds: Double {
            let unit: Double = switch timeUnit {
            case .second: 1
            case .minute: 60
            case .hour: 3600
            case .day: 86_400
            }
            return unit * Double(unitTime)
        }
    }

    /// What happens to an event over the plan's limit.
    public enum ExcessAction: String, Codable, Sendable, CaseIterable {
        /// The message is dropped; the client receives `{"error":"rate_limited","code":4003,"retryAfterMs":N}`.
        case drop
        /// The connection is closed with 4003.
        case close
    }

    /// Which relayed messages count as events.
    public enum CountedDirections: String, Codable, Sendable, CaseIterable {
        case both
        case clientToBackend = "client_to_backend"
        case backendToClient = "backend_to_client"

        public var countsClientToBackend: Bool { self != .backendToClient }
        public var countsBackendToClient: Bool { self != .clientToBackend }
    }

    public var id: String
    public var name: String
    public var displayName: String
    public var description: String
    /// nil: no event limit.
    public var eventLimit: EventLimit?
    /// Concurrent connections per subscription; 0: no cap.
    public var maxConnections: Int
    /// The largest message (and frame) a connection under this plan may send either way; nil: the
    /// API's limit, else the gateway default.
    public var maxMessageBytes: Int?
    public var excessAction: ExcessAction
    public var countedDirections: CountedDirections

    public init(id: String, name: String, displayName: String, description: String, eventLimit: EventLimit?, maxConnections: Int,
                maxMessageBytes: Int? = nil, excessAction: ExcessAction = .drop, countedDirections: CountedDirections = .both) {
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
    public static let messageBytesRange = 1...67_108_864
}
