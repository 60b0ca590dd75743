import Foundation

/// A JSON document as the tests read it: decoded once, then read by member and index without casts
/// (`reply.json["endpointConfig"]["production_endpoints"]["url"] == "ws://…"`). A member or an
/// element that is not there reads as `null`, so a chain never needs an optional in the middle;
/// literals compare directly (`== 2`, `== "PUBLISHED"`, `== nil`).
package enum JSON: Sendable, Equatable, Decodable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    /// The document in `data`; `null` when it is not JSON.
    package init(parsing data: Data) {
        self = (try? JSONDecoder().decode(JSON.self, from: data)) ?? .null
    }

    package init(parsing text: String) {
        self.init(parsing: Data(text.utf8))
    }

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
        } else if let value = try? container.decode([JSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSON].self))
        }
    }

    package subscript(_ key: String) -> JSON {
        if case .object(let members) = self { return members[key] ?? .null }
        return .null
    }

    package subscript(_ index: Int) -> JSON {
        if case .array(let elements) = self, elements.indices.contains(index) { return elements[index] }
        return .null
    }

    package var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number, when it is a whole one.
    package var int: Int? {
        if case .number(let value) = self, value.rounded() == value, abs(value) < 1e15 { return Int(value) }
        return nil
    }

    package var double: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    package var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The elements; empty when this is not an array.
    package var array: [JSON] {
        if case .array(let elements) = self { return elements }
        return []
    }

    /// The members, or nil when this is not an object.
    package var object: [String: JSON]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// An array of strings as one; nil when this is not an array or an element is not a string.
    package var strings: [String]? {
        guard case .array(let elements) = self else { return nil }
        let strings = elements.compactMap(\.string)
        return strings.count == elements.count ? strings : nil
    }

    package var isNull: Bool { self == .null }

    /// Self, or nil when null (or missing): for `try #require(reply["pagination"].orNil)`.
    package var orNil: JSON? { isNull ? nil : self }

    package var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): int.map(String.init) ?? "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let elements): "[" + elements.map(\.description).joined(separator: ",") + "]"
        case .object(let members):
            "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
    }
}

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    package init(nilLiteral: ()) { self = .null }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(integerLiteral value: Int) { self = .number(Double(value)) }
    package init(floatLiteral value: Double) { self = .number(value) }
    package init(stringLiteral value: String) { self = .string(value) }
    package init(arrayLiteral elements: JSON...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, JSON)...) { self = .object(Dictionary(elements) { _, last in last }) }
}
