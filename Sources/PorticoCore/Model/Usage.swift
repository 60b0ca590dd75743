import Foundation

/// What a gateway counts per API, application and minute.
public struct UsageCounts: Sendable, Equatable, Codable {
    public var connections = 0
    public var messagesIn = 0
    public var messagesOut = 0
    public var bytesIn = 0
    public var bytesOut = 0
    public var errors = ErrorCounts()

    /// Errors by category: `auth` (refused credentials or access, 4001/4002 closes), `throttled`
    /// (429 refusals and every event over a rate limit), `backend` (502/503/504 refusals for the
    /// backend, a backend gone or closing with 1011), `other` (oversized or invalid frames, other refusals).
    public struct ErrorCounts: Sendable, Equatable, Codable {
        public var auth = 0
        public var throttled = 0
        public var backend = 0
        public var other = 0

        public init() {}

        public mutating func add(_ other: ErrorCounts) {
            auth += other.auth
            throttled += other.throttled
            backend += other.backend
            self.other += other.other
        }
    }

    public enum ErrorCategory: Sendable {
        case auth, throttled, backend, other
    }

    public init() {}

    /// A data frame relayed, `fromClient` or from the backend: its bytes, and a message when it starts one.
    public mutating func relayed(fromClient: Bool, bytes: Int, startsMessage: Bool) {
        let message = startsMessage ? 1 : 0
        if fromClient {
            messagesIn += message
            bytesIn += bytes
        } else {
            messagesOut += message
            bytesOut += bytes
        }
    }

    public mutating func count(_ category: ErrorCategory) {
        switch category {
        case .auth: errors.auth += 1
        case .throttled: errors.throttled += 1
        case .backend: errors.backend += 1
        case .other: errors.other += 1
        }
    }

    public mutating func add(_ other: UsageCounts) {
        connections += other.connections
        messagesIn += other.messagesIn
        messagesOut += other.messagesOut
        bytesIn += other.bytesIn
        bytesOut += other.bytesOut
        errors.add(other.errors)
    }

    public var isEmpty: Bool { self == UsageCounts() }
}

/// The row a gateway adds to: one API, one application (the nil UUID for none) and one minute.
public struct UsageKey: Sendable, Hashable {
    public static let noApplication = "00000000-0000-0000-0000-000000000000"

    public let apiID: String
    public let applicationID: String
    /// Minutes since 1970 (UTC).
    public let minute: Int64

    public init(apiID: String, applicationID: String?, minute: Int64) {
        self.apiID = apiID
        self.applicationID = applicationID ?? Self.noApplication
        self.minute = minute
    }

    public static func minute(of date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / 60).rounded(.down))
    }
}

/// The granularity of a usage query.
public enum UsageGranularity: String, Sendable, CaseIterable, Codable {
    case minute, hour, day

    public var seconds: Int {
        switch self {
        case .minute: 60
        case .hour: 3600
        case .day: 86_400
        }
    }
}

/// One point of a usage series: the counts of the interval starting at `start`.
public struct UsagePoint: Sendable, Codable, Equatable {
    public let start: Date
    public let usage: UsageCounts

    public init(start: Date, usage: UsageCounts) {
        self.start = start
        self.usage = usage
    }
}

/// An open connection as its gateway reports it.
public struct LiveConnection: Sendable, Codable, Equatable {
    public let id: String
    public let apiID: String
    public let applicationID: String
    public var applicationName: String?
    public var node: String
    public let connectedAt: Date
    public var lastActiveAt: Date
    public let clientAddress: String
    public let userAgent: String?

    public init(id: String, apiID: String, applicationID: String, applicationName: String? = nil, node: String,
                connectedAt: Date, lastActiveAt: Date, clientAddress: String, userAgent: String?) {
        self.id = id
        self.apiID = apiID
        self.applicationID = applicationID
        self.applicationName = applicationName
        self.node = node
        self.connectedAt = connectedAt
        self.lastActiveAt = lastActiveAt
        self.clientAddress = clientAddress
        self.userAgent = userAgent
    }

    enum CodingKeys: String, CodingKey {
        case id, apiID = "apiId", applicationID = "applicationId", applicationName, node, connectedAt, lastActiveAt, clientAddress, userAgent
    }
}
