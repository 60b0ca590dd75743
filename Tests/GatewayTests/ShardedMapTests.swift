import Testing

@testable import gateway

/// The snapshot's map: a dictionary's behaviour, and copies that never see each other's writes.
@Suite struct ShardedMapTests {
    @Test func behavesAsADictionaryAndCopiesStayApart() {
        var map = ShardedMap<String, [Int]>()
        var reference: [String: [Int]] = [:]
        for index in 0..<5_000 {
            map["k\(index)"] = [index]
            reference["k\(index)"] = [index]
        }
        let before = map
        for index in stride(from: 0, to: 5_000, by: 3) {
            map["k\(index)"]?.append(-1)  // in place
            reference["k\(index)"]?.append(-1)
        }
        for index in stride(from: 1, to: 5_000, by: 7) {
            map["k\(index)"] = nil
            reference["k\(index)"] = nil
        }
        map["new", default: []].append(7)
        reference["new", default: []].append(7)
        #expect(map.dictionary == reference)
        #expect(map.count == reference.count)
        #expect(before.count == 5_000)
        #expect(before.dictionary == Dictionary(uniqueKeysWithValues: (0..<5_000).map { ("k\($0)", [$0]) }), "the copy kept its entries")
        #expect(before != map)
        var again = before
        #expect(again == before)
        again["k0"] = [0]
        #expect(again == before, "the same value written again")
    }
}
