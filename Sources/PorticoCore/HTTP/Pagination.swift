import Hummingbird

/// `limit` and `offset` query parameters, validated: limit 1…1000 (default 25), offset 0…10,000,000.
/// Both are bounded, so no arithmetic on a page (`offset + limit`, the links) can overflow.
public struct PageRequest: Sendable, Equatable {
    public var limit: Int
    public var offset: Int

    public static let defaultLimit = 25
    public static let maxLimit = 1000
    /// The largest offset a list accepts; a list longer than this is filtered, not paged that far.
    public static let maxOffset = 10_000_000

    public init(limit: Int = PageRequest.defaultLimit, offset: Int = 0) {
        self.limit = limit
        self.offset = offset
    }

    public init(query: [String: String]) throws {
        self.init()
        if let raw = query["limit"] {
            guard let value = Int(raw), (1...Self.maxLimit).contains(value) else {
                throw APIError.invalidParameter("limit", "Expected a whole number from 1 to \(Self.maxLimit), got '\(raw.prefix(40))'")
            }
            limit = value
        }
        if let raw = query["offset"] {
            guard let value = Int(raw), (0...Self.maxOffset).contains(value) else {
                throw APIError.invalidParameter("offset", "Expected a whole number from 0 to \(Self.maxOffset), got '\(raw.prefix(40))'")
            }
            offset = value
        }
    }
}

/// WSO2's envelope for an unpaged list: `{count, list}`.
public struct CountedList<Item: Encodable & Sendable>: Encodable, Sendable {
    public let count: Int
    public let list: [Item]

    public init(_ list: [Item]) {
        self.count = list.count
        self.list = list
    }
}

/// WSO2's list envelope: `{count, list, pagination: {offset, limit, total, next, previous}}`.
public struct Page<Item: Encodable & Sendable>: Encodable, Sendable {
    public struct Pagination: Encodable, Sendable {
        public let offset: Int
        public let limit: Int
        public let total: Int
        public let next: String
        public let previous: String
    }

    public let count: Int
    public let list: [Item]
    public let pagination: Pagination

    /// `path` is the list's own path; `extraQuery` any other query the links must keep (`query=…`).
    public init(list: [Item], total: Int, page: PageRequest, path: String, extraQuery: String = "") {
        self.count = list.count
        self.list = list
        func link(_ offset: Int) -> String {
            "\(path)?limit=\(page.limit)&offset=\(offset)" + (extraQuery.isEmpty ? "" : "&\(extraQuery)")
        }
        // Saturating: a page built by hand (not from a query) cannot overflow either.
        let (end, overflow) = page.offset.addingReportingOverflow(page.limit)
        self.pagination = Pagination(
            offset: page.offset, limit: page.limit, total: total,
            next: !overflow && end < total ? link(end) : "",
            previous: page.offset > 0 ? link(max(0, page.offset - page.limit)) : "")
    }
}

extension Request {
    /// The query parameters as a dictionary (the last value wins for repeated names).
    public var queryParameters: [String: String] {
        var values: [String: String] = [:]
        for (name, value) in uri.queryParameters {
            values[String(name)] = String(value)
        }
        return values
    }
}
