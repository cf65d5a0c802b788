import Attach
import TraceEvents

/// What the system family's kernel maps hold at one moment, summed over CPUs:
/// read at scrape time and at exit, never streamed.
public struct SystemStats: Sendable {
    /// One syscall of one process.
    public struct Syscall: Sendable, Equatable {
        public var pid: UInt32
        public var nr: UInt32
        public var count: UInt64
        public var totalNanos: UInt64
        /// `UT_SYSCALL_BUCKETS` counts: bucket i holds calls of [2^i, 2^(i+1)) ns.
        public var buckets: [UInt64]
    }

    /// TCP counters of one process.
    public struct TCP: Sendable, Equatable {
        public var outbound: UInt64 = 0
        public var inbound: UInt64 = 0
        public var bytesSent: UInt64 = 0
        public var bytesReceived: UInt64 = 0
        public init() {}
    }

    public var syscalls: [Syscall] = []
    public var tcp: [UInt32: TCP] = [:]
    /// Failed connects per process and errno (-1: closed while connecting).
    public var connectErrors: [UInt32: [Int32: UInt64]] = [:]

    public init() {}

    /// Upper bound in seconds of histogram bucket `i` (exclusive): 2^(i+1) ns.
    public static func bucketUpperSeconds(_ i: Int) -> Double { Double(UInt64(1) << UInt64(i + 1)) / 1e9 }

    public static let bucketCount = Int(UT_SYSCALL_BUCKETS)

    /// The statistics in every loaded system object (`AttachedProbes` of other families are ignored).
    public static func read(_ probes: [AttachedProbes]) throws(AttachError) -> SystemStats {
        var stats = SystemStats()
        let m = system_bpf.maps.self
        for p in probes where p.name == SystemFamily.name {
            let o = p.object
            for (key, values) in try o.entries(m.system_syscalls, keySize: 8, valueSize: MemoryLayout<ut_syscall_stats>.size, perCPU: true) {
                var k = ut_syscall_key()
                withUnsafeMutableBytes(of: &k) { $0.copyBytes(from: key) }
                var s = Syscall(pid: k.tgid, nr: k.nr, count: 0, totalNanos: 0, buckets: [UInt64](repeating: 0, count: bucketCount))
                for v in values {
                    var one = ut_syscall_stats()
                    withUnsafeMutableBytes(of: &one) { $0.copyBytes(from: v) }
                    s.count &+= one.count
                    s.totalNanos &+= one.total_ns
                    withUnsafeBytes(of: one.buckets) { raw in
                        for (i, n) in raw.bindMemory(to: UInt64.self).enumerated() where i < bucketCount { s.buckets[i] &+= n }
                    }
                }
                stats.syscalls.append(s)
            }
            for (key, values) in try o.entries(m.system_tcp, keySize: 4, valueSize: MemoryLayout<ut_tcp_stats>.size, perCPU: true) {
                let pid = key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                var t = stats.tcp[pid] ?? TCP()
                for v in values {
                    var one = ut_tcp_stats()
                    withUnsafeMutableBytes(of: &one) { $0.copyBytes(from: v) }
                    t.outbound &+= one.outbound
                    t.inbound &+= one.inbound
                    t.bytesSent &+= one.bytes_sent
                    t.bytesReceived &+= one.bytes_received
                }
                stats.tcp[pid] = t
            }
            for (key, values) in try o.entries(m.system_tcp_errors, keySize: 8, valueSize: 8, perCPU: true) {
                var k = ut_tcp_error_key()
                withUnsafeMutableBytes(of: &k) { $0.copyBytes(from: key) }
                let n = values.reduce(UInt64(0)) { $0 &+ $1.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } }
                stats.connectErrors[k.tgid, default: [:]][k.error, default: 0] &+= n
            }
        }
        stats.syscalls.sort { ($0.pid, $0.nr) < ($1.pid, $1.nr) }
        return stats
    }
}
