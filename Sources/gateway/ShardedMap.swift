/// A dictionary split into 1,024 shards by the key's hash, for snapshots that change one entry at
/// a time: a copy of the map shares every shard with the original, and writing an entry copies
/// only its shard (a thousandth of the map) and the array of shard references — the cost of a
/// change does not grow with the catalog, and the memory of an old snapshot is mostly the new one's.
struct ShardedMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private static var shardBits: Int { 10 }
    private var shards: [[Key: Value]]
    private(set) var count = 0

    init() {
        shards = Array(repeating: [:], count: 1 << Self.shardBits)
    }

    /// The high bits of the key's hash (a dictionary's buckets use the low ones).
    private static func shard(of key: Key) -> Int {
        Int(UInt(bitPattern: key.hashValue) >> UInt(UInt.bitWidth - shardBits))
    }

    subscript(key: Key) -> Value? {
        get { shards[Self.shard(of: key)][key] }
        set {
            let shard = Self.shard(of: key)
            if let newValue {
                if shards[shard].updateValue(newValue, forKey: key) == nil { count += 1 }
            } else if shards[shard].removeValue(forKey: key) != nil {
                count -= 1
            }
        }
    }

    subscript(key: Key, default defaultValue: @autoclosure () -> Value) -> Value {
        get { self[key] ?? defaultValue() }
        set { self[key] = newValue }
    }

    /// Every entry, in no particular order.
    var entries: some Sequence<(key: Key, value: Value)> { shards.lazy.flatMap { $0 } }

    /// The entries as one dictionary (for comparisons and tests).
    var dictionary: [Key: Value] {
        var all: [Key: Value] = [:]
        all.reserveCapacity(count)
        for (key, value) in entries { all[key] = value }
        return all
    }
}

extension ShardedMap: Equatable where Value: Equatable {
    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.count == rhs.count && lhs.shards == rhs.shards
    }
}
