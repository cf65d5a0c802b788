import Attach
import Symbols
import TraceEvents
import Tracing

/// The system view of traced processes (`system.bpf.c`): per-syscall counts
/// and latency histograms (`--syscalls`), TCP connects, accepted connections
/// and payload bytes (`--tcp`), aggregated in the kernel and read at scrape
/// time and exit (`SystemStats`), plus one CLIENT span `tcp connect` per
/// outbound connect (`TCPConnectSpans`).
///
/// Kernel hooks, not uprobes: one object per traced pid whose programs compare
/// the current tgid with `ut_cfg.target_tgid` first. Opt-in: auto-detection
/// never chooses it, and `--syscalls`/`--tcp` add it to what `--pid` detects.
public enum SystemFamily: ProbeFamily {
    public static let id = UT_FAMILY_SYSTEM
    public static let flag = "syscalls"
    public static let traces = "syscalls and TCP connections (opt-in: --syscalls, --tcp)"
    public static var optIn: Bool { true }

    /// What the user asked for, from the flag's spec ("syscalls", "tcp", "syscalls,tcp").
    public struct Parts: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let syscalls = Parts(rawValue: 1)
        public static let tcp = Parts(rawValue: 2)

        public init(spec: String) {
            self = []
            for word in spec.split(separator: ",") {
                if word == "syscalls" { insert(.syscalls) }
                if word == "tcp" { insert(.tcp) }
            }
        }

        /// The spec `init(spec:)` reads.
        public var spec: String { [contains(.syscalls) ? "syscalls" : nil, contains(.tcp) ? "tcp" : nil].compactMap { $0 }.joined(separator: ",") }
    }

    static let syscallPrograms = [system_bpf.progs.system_sys_enter, system_bpf.progs.system_sys_exit]
    static let tcpPrograms = [system_bpf.progs.system_tcp_state, system_bpf.progs.system_tcp_accept,
                              system_bpf.progs.system_tcp_accept4, system_bpf.progs.system_tcp_sent,
                              system_bpf.progs.system_tcp_received]

    public static func plan(_ target: TraceTarget, spec: String?, options: TraceOptions) throws -> FamilyPlan {
        let parts = Parts(spec: spec ?? "")
        guard !parts.isEmpty else {
            throw FamilyError.notApplicable(family: flag, reason: "opt-in", hint: "add --syscalls or --tcp")
        }
        guard case .process(let pid) = target else {
            throw FamilyError.notApplicable(family: flag, reason: "--syscalls and --tcp trace processes, not a library or file",
                                            hint: "give the process with --pid PID")
        }
        // The process must exist: the kernel hooks would attach anyway and trace nothing.
        _ = try ProcessImage(pid: pid)
        let attached = (parts.contains(.syscalls) ? syscallPrograms : []) + (parts.contains(.tcp) ? tcpPrograms : [])
        let unused = (syscallPrograms + tcpPrograms).filter { !attached.contains($0) }
        let what = [parts.contains(.syscalls) ? "raw_syscalls sys_enter/sys_exit" : nil,
                    parts.contains(.tcp) ? "sock:inet_sock_set_state, sock_send_length/sock_recv_length, sys_exit_accept[4]" : nil]
            .compactMap { $0 }.joined(separator: ", ")
        return FamilyPlan(family: id,
                          request: ProbeRequest(object: system_bpf.object, path: "pid \(pid)", pid: pid, sites: [],
                                                kernelPrograms: attached, unusedPrograms: unused),
                          displayPath: "pid \(pid)", summary: "pid \(pid) (\(parts.spec): \(what))")
    }

    public static func makeDecoder(_ setup: DecoderSetup) -> any FamilyDecoder {
        SystemDecoder(spans: TCPConnectSpans(clock: setup.clock, resource: setup.resource), sampler: setup.sampler)
    }
}

/// `tcp connect` records → CLIENT spans.
struct SystemDecoder: FamilyDecoder {
    let spans: TCPConnectSpans
    let sampler: Sampler

    mutating func consume(_ record: UnsafeRawBufferPointer, kind: UInt32, threadParent: SpanContext?) -> [Span]? {
        guard let e = TCPConnectEvent(bytes: record) else { return nil }
        return [spans.span(for: e, sampler: sampler)]
    }
}
