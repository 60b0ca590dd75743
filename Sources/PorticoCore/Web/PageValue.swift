import Foundation

/// A JSON value a page reads from the REST API and hands to a template. Templates render plain
/// Swift values (`rendered`): dictionaries, arrays, strings, numbers and booleans, so that a
/// `{{#flag}}` section means the JSON's `true`.
package enum PageValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([PageValue])
    case object([String: PageValue])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([PageValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: PageValue].self))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { try container.encode(Int(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    package subscript(key: String) -> PageValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    package var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    package var int: Int? {
        if case .number(let value) = self { return Int(exactly: value.rounded()) }
        return nil
    }

    package var array: [PageValue] {
        if case .array(let values) = self { return values }
        return []
    }

    /// The value as a template renders it; a number that is whole renders without a decimal point.
    package var rendered: Any {
        switch self {
        case .null: return Optional<String>.none as Any
        case .bool(let value): return value
        case .number(let value): return value == value.rounded() && abs(value) < 1e15 ? Int(value) as Any : value as Any
        case .string(let value): return value
        case .array(let values): return values.map(\.rendered)
        case .object(let fields): return fields.mapValues(\.rendered)
        }
    }
}

extension PageValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    package init(stringLiteral value: String) { self = .string(value) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(integerLiteral value: Int) { self = .number(Double(value)) }
}
