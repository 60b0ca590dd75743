import Foundation
import NIOCore

/// How many event loops the gateway runs: one per CPU it may run on. SwiftNIO counts the machine's
/// CPUs and honours a cgroup's quota or cpuset, but not the process's CPU affinity (`taskset`,
/// a pinned container): a gateway pinned to one CPU of two would run two loops that take turns on
/// it, paying a context switch where one loop would simply go on.
enum EventLoops {
    /// The default of `GATEWAY_EVENT_LOOPS`: NIO's count, lowered to the CPUs in the affinity mask.
    static var available: Int {
        let affinity = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)).flatMap(cpusAllowed(status:))
        return max(1, min(System.coreCount, affinity ?? System.coreCount))
    }

    /// The number of CPUs in `/proc/self/status`'s `Cpus_allowed_list` (e.g. `0-3,8`); nil when absent.
    static func cpusAllowed(status: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
        var count = 0
        for range in line.dropFirst("Cpus_allowed_list:".count).split(separator: ",") {
            let bounds = range.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1:
                guard bounds[0] != nil else { return nil }
                count += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], high >= low else { return nil }
                count += high - low + 1
            default: return nil
            }
        }
        return count > 0 ? count : nil
    }
}
