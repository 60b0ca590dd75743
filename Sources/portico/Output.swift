import ArgumentParser
import Foundation

/// How a command prints what the server answered: a table for people (the default on a
/// terminal), JSON or YAML for scripts (the default when the output is not a terminal).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, yaml
}

struct OutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "table, json or yaml (default: table on a terminal, else json)")
    var output: OutputFormat?

    @Option(help: "The profile to use (default: $PORTICO_PROFILE, else \"default\")")
    var profile: String?

    var format: OutputFormat { output ?? (isatty(STDOUT_FILENO) == 1 ? .table : .json) }

    var profileName: String { profile ?? ProcessInfo.processInfo.environment["PORTICO_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default" }

    /// Prints a JSON answer; `columns` are a list's columns in a table (`list` items, or the
    /// answer itself when it is an array).
    func print(_ data: Data, columns: [String] = []) {
        guard let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            Swift.print(String(decoding: data, as: UTF8.self))
            return
        }
        switch format {
        case .json:
            let pretty =
                (try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? data
            Swift.print(String(decoding: pretty, as: UTF8.self))
        case .yaml:
            Swift.print(Self.yaml(value, indent: 0).joined(separator: "\n"))
        case .table:
            let rows = (value as? [[String: Any]]) ?? ((value as? [String: Any])?["list"] as? [[String: Any]])
            if let rows, !columns.isEmpty {
                Swift.print(Self.table(rows, columns: columns))
            } else if let object = value as? [String: Any] {
                let width = object.keys.map(\.count).max() ?? 0
                for key in object.keys.sorted() {
                    Swift.print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + Self.cell(object[key]))
                }
            } else {
                Swift.print(Self.cell(value))
            }
        }
    }

    static func table(_ rows: [[String: Any]], columns: [String]) -> String {
        let cells = rows.map { row in columns.map { cell(value(row, $0)) } }
        let widths = columns.indices.map { index in ([columns[index]] + cells.map { $0[index] }).map(\.count).max() ?? 0 }
        func line(_ values: [String]) -> String {
            zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return ([line(columns.map { $0.uppercased() })] + cells.map(line)).joined(separator: "\n")
    }

    /// `a.b` reads member `b` of member `a`.
    static func value(_ row: [String: Any], _ path: String) -> Any? {
        var current: Any? = row
        for part in path.split(separator: ".") { current = (current as? [String: Any])?[String(part)] }
        return current
    }

    static func cell(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: ""
        case let string as String: string
        case let array as [Any]: array.map { cell($0) }.joined(separator: ",")
        case let number as NSNumber: number.objCType.pointee == CChar(UInt8(ascii: "c")) ? (number.boolValue ? "true" : "false") : number.stringValue
        case let object as [String: Any]:
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? ""
        default: "\(value!)"
        }
    }

    static func yaml(_ value: Any, indent: Int) -> [String] {
        let pad = String(repeating: "  ", count: indent)
        switch value {
        case let object as [String: Any]:
            if object.isEmpty { return [pad + "{}"] }
            return object.keys.sorted().flatMap { key -> [String] in
                let member = object[key]!
                if let scalar = yamlScalar(member) { return ["\(pad)\(key): \(scalar)"] }
                return ["\(pad)\(key):"] + yaml(member, indent: indent + 1)
            }
        case let array as [Any]:
            if array.isEmpty { return [pad + "[]"] }
            return array.flatMap { element -> [String] in
                if let scalar = yamlScalar(element) { return ["\(pad)- \(scalar)"] }
                var lines = yaml(element, indent: indent + 1)
                if !lines.isEmpty { lines[0] = pad + "- " + lines[0].dropFirst(pad.count + 2) }
                return lines
            }
        default:
            return [pad + (yamlScalar(value) ?? "")]
        }
    }

    private static func yamlScalar(_ value: Any) -> String? {
        switch value {
        case is NSNull: return "null"
        case let string as String:
            let data = try? JSONSerialization.data(withJSONObject: string, options: [.fragmentsAllowed, .withoutEscapingSlashes])
            return data.map { String(decoding: $0, as: UTF8.self) }
        case let number as NSNumber:
            // JSONSerialization's booleans are NSNumbers of ObjC type "c".
            return number.objCType.pointee == CChar(UInt8(ascii: "c")) ? (number.boolValue ? "true" : "false") : number.stringValue
        case let array as [Any] where array.isEmpty: return "[]"
        case let object as [String: Any] where object.isEmpty: return "{}"
        default: return nil
        }
    }
}
