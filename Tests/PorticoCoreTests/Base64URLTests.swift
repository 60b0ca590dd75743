import Foundation
@testable import PorticoCore
import Testing

/// base64url, decoded byte by byte, against Foundation's base64 on random data of every length.
@Suite struct Base64URLTests {
    @Test func decodesWhatFoundationEncodes() {
        for length in 0..<200 {
            let data = Data((0..<length).map { _ in UInt8.random(in: 0...255) })
            let standard = data.base64EncodedString()
            #expect(Data(base64URLEncoded: data.base64URLEncoded) == data, "unpadded url-safe, \(length) bytes")
            #expect(Data(base64URLEncoded: standard) == data, "padded standard alphabet, \(length) bytes")
        }
    }

    @Test func refusesWhatIsNotBase64() {
        for bad in ["a", "abcde", "ab$d", "ab=c", "YW Jj", "é"] {
            #expect(Data(base64URLEncoded: bad) == nil, "\(bad)")
        }
        #expect(Data(base64URLEncoded: "") == Data())
        #expect(Data(base64URLEncoded: "-_8") == Data([0xFB, 0xFF]))
    }
}
