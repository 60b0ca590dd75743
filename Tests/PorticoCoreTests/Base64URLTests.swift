import Foundation
import Testing

@testable import PorticoCore

/// base64url, decoded byte by byte, against Foundation's base64 on random data of every length:
/// exactly one spelling per byte string (RFC 7515 §2).
@Suite struct Base64URLTests {
    @Test func decodesWhatFoundationEncodes() {
        for length in 0..<200 {
            let data = Data((0..<length).map { _ in UInt8.random(in: 0...255) })
            #expect(Data(base64URLEncoded: data.base64URLEncoded) == data, "unpadded url-safe, \(length) bytes")
        }
    }

    /// Every other spelling of the same bytes is refused: padding, the standard alphabet, white
    /// space, and a last symbol whose unused bits are not zero.
    @Test func acceptsExactlyOneSpelling() {
        for length in 1..<120 {
            let data = Data((0..<length).map { _ in UInt8.random(in: 0...255) })
            let canonical = data.base64URLEncoded
            let standard = data.base64EncodedString()
            if standard.contains("=") {
                #expect(
                    Data(base64URLEncoded: standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")) == nil,
                    "padded"
                )
            }
            if standard.contains("+") || standard.contains("/") { #expect(Data(base64URLEncoded: standard) == nil, "standard alphabet") }
            #expect(Data(base64URLEncoded: canonical + "=") == nil)
            #expect(Data(base64URLEncoded: canonical + " ") == nil)
            if length % 3 != 0 {
                // The last symbol carries 2 or 4 unused bits; setting the lowest one spells the same bytes otherwise.
                var symbols = Array(canonical.utf8)
                let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
                let value = alphabet.firstIndex(of: symbols[symbols.count - 1])!
                symbols[symbols.count - 1] = alphabet[value | 1]
                #expect(Data(base64URLEncoded: String(decoding: symbols, as: UTF8.self)) == nil, "non-zero trailing bits, \(length) bytes")
            }
        }
    }

    @Test func refusesWhatIsNotBase64() {
        for bad in ["a", "abcde", "ab$d", "ab=c", "YW Jj", "é", "ab+/", "YQ=="] {
            #expect(Data(base64URLEncoded: bad) == nil, "\(bad)")
        }
        #expect(Data(base64URLEncoded: "") == Data())
        #expect(Data(base64URLEncoded: "-_8") == Data([0xFB, 0xFF]))
    }
}

/// The byte-level backstop of the control-character rule for JSON bodies.
@Suite struct JSONControlCharacterScanTests {
    @Test func findsEscapedAndRawControlCharactersInStringsOnly() {
        func scan(_ json: String) -> Unicode.Scalar? { TextInput.firstControlCharacter(inJSON: Data(json.utf8)) }
        #expect(scan(#"{"a":"\u0000"}"#) == "\u{0}")
        #expect(scan(#"{"a":"ok","a":"x\u001b"}"#) == "\u{1B}")
        #expect(scan(#"{"a\u0085":1}"#) == "\u{85}")
        #expect(scan(#"{"a":"x\by"}"#) == "\u{8}" && scan(#"{"a":"x\fy"}"#) == "\u{C}", "the short escapes")
        #expect(scan("{\"a\":\"x\u{7F}\"}") == "\u{7F}")
        #expect(scan("{\"a\":\"x\u{9F}\"}") == "\u{9F}")
        #expect(scan(#"{"a":"\\u0000"}"#) == nil, "an escaped backslash, then the text u0000")
        #expect(scan(#"{"a":"tab\tnewline\n\u000A\u0009 é \u00e9 \ud83d\ude00"}"#) == nil)
        #expect(scan(#"{"a":1,"b":[true,null]}"#) == nil)
    }
}
