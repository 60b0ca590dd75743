import Foundation

/// The port a server bound, handed from its start-up callback to the test.
package final class BoundPort: Sendable {
    package init() {}
    private let storage = NIOLockedValueBoxCompat<Int?>(nil)
    package func set(_ port: Int) { storage.mutate { $0 = port } }
    package func wait() async throws -> Int {
        for _ in 0..<500 {
            if let port = storage.value { return port }
            await pause(.milliseconds(10))
        }
        throw CancellationError()
    }
}
