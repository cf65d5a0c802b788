#if canImport(Glibc)
import Glibc
#endif
import CProbeCostSites

/// What one uprobe hit costs on this machine, by instruction class: the two
/// numbers that decide where probes go (DESIGN.md, Cost model).
///
/// How: two functions of this executable (`CProbeCostSites`) start with
/// `push %rbp` (the kernel emulates it) and `sub $8,%rsp` (the kernel
/// single-steps it). Each is called N times with no probe and N times with a
/// counting uprobe perf event on its first instruction (perf_event_open on the
/// uprobe PMU, this thread only, no BPF program: the trap path is the same with
/// one). The extra thread CPU time divided by the hits is the cost per hit.
/// Thread CPU time, not wall time, so other work on a shared core does not count;
/// the kernel's trap handling runs on this thread and does. Each measurement is
/// the lowest of a few rounds.
///
/// Takes about 0.2 s, most of it the two uprobe unregistrations.
public enum ProbeCost {
    /// One probe site: an object file and the file offset of an instruction in it.
    public struct Site: Sendable, Hashable {
        public var path: String
        public var fileOffset: UInt64
        public init(path: String, fileOffset: UInt64) {
            self.path = path
            self.fileOffset = fileOffset
        }
    }

    /// Microseconds per uprobe hit.
    public struct Result: Sendable, Hashable {
        /// A hit on `push %rbp`: INT3, emulated, no single step.
        public var emulated: Double
        /// A hit on `sub $8,%rsp`: INT3, then single-stepped out of line (#DB).
        public var singleStepped: Double
    }

    /// The runtime addresses of the two measured functions, for the caller to turn
    /// into file offsets in `/proc/self/exe` (through `/proc/self/maps`).
    public static var emulatedFunctionAddress: UInt64 { address(of: uprobe_trace_cost_emulated) }
    public static var singleSteppedFunctionAddress: UInt64 { address(of: uprobe_trace_cost_single_stepped) }

    private static func address(of f: @convention(c) () -> Void) -> UInt64 {
        UInt64(UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self)))
    }

    /// Measures both classes.
    ///
    /// - Parameters:
    ///   - emulated: where `uprobe_trace_cost_emulated` starts in a file this process maps.
    ///   - singleStepped: where `uprobe_trace_cost_single_stepped` starts.
    /// - Throws: `AttachError.permission` without the privilege to create uprobes,
    ///   `.uprobe` when the event cannot be opened, `.state` when the probe did not
    ///   count exactly one hit per call (the offsets do not point at the functions).
    public static func measure(emulated: Site, singleStepped: Site) throws(AttachError) -> Result {
        let pmu = try uprobePMUType()
        let e = try perHit(uprobe_trace_cost_emulated, at: emulated, calls: 20_000, pmu: pmu)
        let s = try perHit(uprobe_trace_cost_single_stepped, at: singleStepped, calls: 2_000, pmu: pmu)
        return Result(emulated: e, singleStepped: s)
    }

    private static func uprobePMUType() throws(AttachError) -> UInt32 {
        let path = "/sys/bus/event_source/devices/uprobe/type"
        guard let f = fopen(path, "r") else { throw .libbpf(operation: "open \(path)", errno: errno) }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 32)
        guard fgets(&buf, Int32(buf.count), f) != nil,
              let type = UInt32(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .filter { $0.isNumber }) else { throw .libbpf(operation: "read \(path)", errno: EINVAL) }
        return type
    }

    /// CPU time of this thread, in nanoseconds.
    private static func threadNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// The lowest thread CPU time of `rounds` runs of `calls` calls.
    private static func time(_ f: @convention(c) () -> Void, calls: Int, rounds: Int = 3) -> UInt64 {
        var best = UInt64.max
        for _ in 0..<rounds {
            let t0 = threadNanoseconds()
            for _ in 0..<calls { f() }
            best = min(best, threadNanoseconds() - t0)
        }
        return best
    }

    private static func perHit(_ f: @convention(c) () -> Void, at site: Site, calls: Int, pmu: UInt32) throws(AttachError) -> Double {
        let rounds = 3
        let base = time(f, calls: calls, rounds: rounds)
        // pid 0: this thread only.
        let fd = UprobePerfEvent.open(pmuType: pmu, path: site.path, offset: site.fileOffset, pid: 0)
        guard fd >= 0 else {
            let e = errno
            if e == EPERM || e == EACCES { throw .permission(operation: "perf_event_open of a uprobe") }
            throw .uprobe(program: "probe-cost counter", path: site.path, offset: site.fileOffset, pid: getpid(), errno: e)
        }
        defer { close(fd) }
        let probed = time(f, calls: calls, rounds: rounds)
        var hits: UInt64 = 0
        guard read(fd, &hits, 8) == 8 else { throw .libbpf(operation: "read of the uprobe counter", errno: errno) }
        guard hits == UInt64(calls * rounds) else {
            throw .state("the probe-cost uprobe at \(site.path)+0x\(String(site.fileOffset, radix: 16)) counted \(hits) hits for \(calls * rounds) calls: the offset is not the function's first instruction")
        }
        return Double(probed > base ? probed - base : 0) / Double(calls) / 1000
    }
}
