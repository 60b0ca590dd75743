/// A connection's id: a random (version 4) UUID in lowercase, as the management API, the log line
/// and the `X-Portico-Connection-Id` headers show it. Its 122 random bits come from the pooled
/// CSPRNG bytes of `MaskKeys`: Foundation's `UUID()` opened, read and closed /dev/urandom on every
/// handshake (three system calls, about 1.5 % of a handshake's profile).
enum ConnectionID {
    private static let hex = Array("0123456789abcdef".utf8)

    static func make() -> String {
        format(MaskKeys.bytes(16))
    }

    /// The 16 bytes as a version 4, variant 1 (RFC 9562) UUID's text.
    static func format(_ random: [UInt8]) -> String {
        precondition(random.count == 16)
        var bytes = random
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return String(unsafeUninitializedCapacity: 36) { text in
            var at = 0
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    text[at] = UInt8(ascii: "-")
                    at += 1
                }
                text[at] = hex[Int(byte >> 4)]
                text[at + 1] = hex[Int(byte & 0x0F)]
                at += 2
            }
            return at
        }
    }
}
