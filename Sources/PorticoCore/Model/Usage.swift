import Foundation

/// What a gateway counts per API, application and minute.
package struct UsageCounts: Sendable, Equatable, Codable {
    package var connections = 0
    package var messagesIn = 0
    package var messagesOut = 0
    package var bytesIn = 0
    package var bytesOut = 0
    package var errors = ErrorCounts()

    /// Errors by category: `auth` (refused credentials or access, 4001/4002 closes), `throttled`
    /// (429 refusals and every event over a rate limit), `backend` (502/503/504 refusals for the
    /// backend, a backend gone or closing with 1011), `other` (oversized or invalid frames, other refusals).
    package struct ErrorCounts: Sendable, Equatable, Codable {
        package var auth = 0
        package var throttled = 0
        package var backend = 0
        package var other = 0

        package init() {}

        package mutating func add(_ other: ErrorCounts) {
            auth += other.auth
            throttled += other.throttled
            backend += other.backend
            self.other += other.other
        }
    }

    package enum ErrorCategory: Sendable {
        case auth, throttled, backend, other
    }

    package init() {}

    /// A data frame relayed, `fromClient` or from the backend: its bytes, and a message when it starts one.
    package mutating func relayed(fromClient: Bool, bytes: Int, startsMessage: Bool) {
        let message = startsMessage ? 1 : 0
        if fromClient {
            messagesIn += message
            bytesIn += bytes
        } else {
            messagesOut += message
            bytesOut += bytes
        }
    }

    package mutating func count(_ category: ErrorCategory) {
        switch category {
        case .auth: errors.auth += 1
        case .throttled: errors.throttled += 1
        case .backend: errors.backend += 1
        case .other: errors.other += 1
        }
    }

    package mutating func add(_ other: UsageCounts) {
        connections += other.connections
        messagesIn += other.messagesIn
        messagesOut += other.messagesOut
        bytesIn += other.bytesIn
        bytesOut += other.bytesOut
        errors.add(other.errors)
    }

    package var isEmpty: Bool { self == UsageCounts() }
}

/// The row a gateway adds to: one API, one application (the nil UUID for none) and one minute.
package struct UsageKey: Sendable, Hashable {
    package static let noApplication = "00000000-0000-0000-0000-000000000000"

    package let apiID: String
    package let applicationID: String
    /// Minutes since 1970 (UTC).
    package let minute: Int64

    package init(apiID: String, applicationID: String?, minute: Int64) {
        self.apiID = apiID
        self.applicationID = applicationID ?? Self.noApplication
        self.minute = minute
    }

    package static func minute(of date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / 60).rounded(.down))
    }
}

/// The granularity of a usage query.
package enum UsageGranularity: String, Sendable, CaseIterable, Codable {
    case minute, hour, day

    package var seconds: Int {
        switch self {
        case .minute: 60
        case .hour: 3600
        case .day: 86_400
        }
    }
}

/// One point of a usage series: the counts of the interval starting at `start`.
package struct UsagePoint: Sendable, Codable, Equatable {
    package let start: Date
    package let usage: UsageCounts

    package init(start: Date, usage: UsageCounts) {
        self.start = start
        self.usage = usage
    }
}

/// An open connection as its gateway reports it.
package struct LiveConnection: Sendable, Codable, Equatable {
    package let id: String
    package let apiID: String
    package let applicationID: String
    package var applicationName: String?
    package var node: String
    package let connectedAt: Date
    package var lastActiveAt: Date
    package let clientAddress: String
    package let userAgent: String?

    package init(
        id: String,
        apiID: String,
        applicationID: String,
        applicationName: String? = nil,
        node: String,
        connectedAt: Date,
        lastActiveAt: Date,
        clientAddress: String,
        userAgent: String?
    ) {
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
        case id
        case apiID = "apiId"
        case applicationID = "applicationId"
        case applicationName, node, connectedAt, lastActiveAt, clientAddress, userAgent
    }
}
