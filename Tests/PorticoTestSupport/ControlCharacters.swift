import Foundation
import Hummingbird
import Testing

/// Bodies for the property that no text with a control character reaches a store: every variant
/// of a valid JSON body with one refused character (NUL, other C0 controls, DEL, C1) put at a
/// random place of one of its strings, or of one of its member names.
package enum ControlCharacters {
    package static let refused: [Unicode.Scalar] = ["\u{0}", "\u{1}", "\u{8}", "\u{B}", "\u{C}", "\u{1B}", "\u{1F}", "\u{7F}", "\u{85}", "\u{9F}"]

    package struct Variant: Sendable, CustomStringConvertible {
        /// The field as an error names it (`endpointConfig.production_endpoints.url`, `policies[1]`);
        /// nil when the character is in a member name.
        package let field: String?
        package let json: String
        package var description: String { "\(field ?? "a member name"): \(json)" }
    }

    package static func variants<G: RandomNumberGenerator>(of json: String, using generator: inout G) throws -> [Variant] {
        let document = try JSONSerialization.jsonObject(with: Data(json.utf8))
        var variants: [Variant] = []
        func spoil(_ text: String) -> String {
            var scalars = Array(text.unicodeScalars)
            scalars.insert(refused.randomElement(using: &generator)!, at: Int.random(in: 0...scalars.count, using: &generator))
            return String(String.UnicodeScalarView(scalars))
        }
        func walk(_ value: Any, path: String, rebuild: (Any) -> Any) throws {
            switch value {
            case let text as String:
                variants.append(Variant(field: path, json: try encode(rebuild(spoil(text)))))
            case let object as [String: Any]:
                for (key, member) in object {
                    let field = path.isEmpty ? key : "\(path).\(key)"
                    var renamed = object
                    renamed[key] = nil
                    renamed[spoil(key)] = member
                    variants.append(Variant(field: nil, json: try encode(rebuild(renamed))))
                    try walk(member, path: field) { new in
                        var copy = object
                        copy[key] = new
                        return rebuild(copy)
                    }
                }
            case let array as [Any]:
                for (index, element) in array.enumerated() {
                    try walk(element, path: "\(path)[\(index)]") { new in
                        var copy = array
                        copy[index] = new
                        return rebuild(copy)
                    }
                }
            default:
                break
            }
        }
        try walk(document, path: "") { $0 }
        return variants
    }

    static func encode(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
    }
}

extension RESTClient {
    /// Sends every control-character variant of `body` and expects each to be a 400 that names the
    /// field (the member-name variants only the 400).
    package func expectControlCharactersRefused(
        _ method: HTTPRequest.Method,
        _ path: String,
        body: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        var generator = SystemRandomNumberGenerator()
        for variant in try ControlCharacters.variants(of: body, using: &generator) {
            let reply = try await send(method, path, json: variant.json)
            reply.expectError(.badRequest, sourceLocation: sourceLocation)
            if let field = variant.field {
                #expect(reply.text.contains("'\(field)'"), "\(method) \(path) \(variant): \(reply.text)", sourceLocation: sourceLocation)
            }
        }
    }
}
