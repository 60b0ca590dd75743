import Hummingbird

/// `limit` and `offset` query parameters, validated: limit 1…1000 (default 25), offset 0…10,000,000.
/// Both are bounded, so no arithmetic on a page (`offset + limit`, the links) can overflow.
package struct PageRequest: Sendable, Equatable {
    package var limit: Int
    package var offset: Int

    package static let defaultLimit = 25
    package static let maxLimit = 1000
    /// The largest offset a list accepts; a list longer than this is filtered, not paged that far.
    package static let maxOffset = 10_000_000

    package init(limit: Int = PageRequest.defaultLimit, offset: Int = 0) {
        self.limit = limit
        self.offset = offset
    }

    package init(query: [String: String]) throws {
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
package struct CountedList<Item: Encodable & Sendable>: ResponseEncodable, Sendable {
    package let count: Int
    package let list: [Item]

    package init(_ list: [Item]) {
        self.count = list.count
        self.list = list
    }
}

/// WSO2's list envelope: `{count, list, pagination: {offset, limit, total, next, previous}}`.
package struct Page<Item: Encodable & Sendable>: ResponseEncodable, Sendable {
    package struct Pagination: Encodable, Sendable {
        package let offset: Int
        package let limit: Int
        package let total: Int
        package let next: String
        package let previous: String
    }

    package let count: Int
    package let list: [Item]
    package let pagination: Pagination

    /// `path` is the list's own path; `extraQuery` any other query the links must keep (`query=…`).
    package init(list: [Item], total: Int, page: PageRequest, path: String, extraQuery: String = "") {
        self.count = list.count
        self.list = list
        func link(_ offset: Int) -> String {
            "\(path)?limit=\(page.limit)&offset=\(offset)" + (extraQuery.isEmpty ? "" : "&\(extraQuery)")
        }
        // Saturating: a page built by hand (not from a query) cannot overflow either.
        let (end, overflow) = page.offset.addingReportingOverflow(page.limit)
        self.pagination = Pagination(
            offset: page.offset,
            limit: page.limit,
            total: total,
            next: !overflow && end < total ? link(end) : "",
            previous: page.offset > 0 ? link(max(0, page.offset - page.limit)) : ""
        )
    }
}

extension Request {
    /// The query parameters as a dictionary (the last value wins for repeated names).
    package var queryParameters: [String: String] {
        var values: [String: String] = [:]
        for (name, value) in uri.queryParameters {
            values[String(name)] = String(value)
        }
        return values
    }
}
