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
    }

    public var id: String
    public var name: String
    public var displayName: String
    public var description: String
    /// nil: no event limit.
    public var eventLimit: EventLimit?
    /// Concurrent connections per subscription; 0: no cap.
    public var maxConnections: Int

    public init(id: String, name: String, displayName: String, description: String, eventLimit: EventLimit?, maxConnections: Int) {
        self.id = id
        self.name = name
        self.displayName = displayName
        self.description = description
        self.eventLimit = eventLimit
        self.maxConnections = maxConnections
    }
}
