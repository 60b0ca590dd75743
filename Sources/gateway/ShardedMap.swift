/// A dictionary split into 4,096 shards by the key's hash, for snapshots that change one entry at
/// a time: a copy of the map shares every shard with the original, and writing an entry copies
/// only its shard and the two short arrays that lead to it (64 groups of 64 shards: a flat array
/// of 4,096 would cost 4,096 reference counts per change). At a million entries a shard holds
/// about 250 — a change's copy stays small, and the memory of an old snapshot is mostly the new one's.
struct ShardedMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private static var groupBits: Int { 6 }
    private static var shardBits: Int { 6 }
    private var groups: [[[Key: Value]]]

    init() {
        groups = Array(repeating: Array(repeating: [:], count: 1 << Self.shardBits), count: 1 << Self.groupBits)
    }

    /// The high bits of the key's hash (a dictionary's buckets use the low ones): its group, then
    /// its shard in the group.
    private static func place(of key: Key) -> (group: Int, shard: Int) {
        let bits = UInt(bitPattern: key.hashValue) >> UInt(UInt.bitWidth - groupBits - shardBits)
        return (Int(bits >> UInt(shardBits)), Int(bits & (1 << UInt(shardBits) - 1)))
    }

    /// How many entries (summed over the shards: for comparisons and tests, not for hot paths).
    var count: Int { groups.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } } }

    /// An entry, changed in place: `map[key]?.list.append(x)` is one lookup, and a value the map
    /// alone holds is not copied (a get and a set would copy it, and hash the key twice).
    subscript(key: Key) -> Value? {
        get {
            let (group, shard) = Self.place(of: key)
            return groups[group][shard][key]
        }
        _modify {
            let (group, shard) = Self.place(of: key)
            yield &groups[group][shard][key]
        }
    }

    subscript(key: Key, default defaultValue: @autoclosure () -> Value) -> Value {
        get { self[key] ?? defaultValue() }
        _modify {
            let (group, shard) = Self.place(of: key)
            yield &groups[group][shard][key, default: defaultValue()]
        }
    }

    /// Every entry, in no particular order.
    var entries: some Sequence<(key: Key, value: Value)> { groups.lazy.flatMap { $0 }.flatMap { $0 } }

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
        lhs.groups == rhs.groups
    }
}
