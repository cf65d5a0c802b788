#if canImport(Glibc)
import Glibc
#endif
import SystemSupport

/// Errors of loading and attaching BPF programs; each message ends in a hint.
public enum AttachError: Error, Sendable, CustomStringConvertible {
    /// EPERM/EACCES from bpf() or perf_event_open: not root / missing capabilities.
    case permission(operation: String)
    /// Any other failure of a libbpf call, with errno.
    case libbpf(operation: String, errno: Int32)
    /// The embedded object has no program, map or global of that name
    /// (the Swift side and `bpf/*.bpf.c` disagree).
    case notFound(kind: String, name: String, object: String)
    /// A global's size in the object's BTF differs from the Swift type written into it.
    case layoutMismatch(name: String, btfSize: Int, swiftSize: Int)
    /// The verifier (or libbpf) rejected the object; `log` holds libbpf's last warnings.
    case load(object: String, errno: Int32, log: [String])
    /// perf_event_open of a uprobe at `path`+`offset` failed.
    case uprobe(program: String, path: String, offset: UInt64, pid: Int32, errno: Int32)
    /// bpf(BPF_LINK_CREATE) of a uprobe_multi link over `sites` offsets of `path` failed.
    case uprobeMulti(program: String, path: String, sites: Int, pid: Int32, errno: Int32)
    /// `bpf_program__attach` of a program on a kernel hook (tracepoint, raw tracepoint, ...) failed.
    case kernelHook(program: String, section: String, errno: Int32)
    /// Called in the wrong phase (config after load, attach before load, use after detach).
    case state(String)

    public var description: String {
        switch self {
        case .permission(let op):
            return "\(op): permission denied; hint: run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE (and CAP_SYS_ADMIN on Linux 6.16+ and stable kernels with that change, where creating a uprobe needs it); `uprobe-trace doctor` checks"
        case .libbpf(let op, let e):
            return "\(op) failed: \(Errno(e)); hint: run `uprobe-trace doctor` to check kernel support"
        case .notFound(let kind, let name, let object):
            return "BPF object \(object) has no \(kind) named \(name); hint: the build is inconsistent, rebuild (swift build) so bpf/\(object).bpf.c and the Swift code match"
        case .layoutMismatch(let name, let btf, let swift):
            return "BPF global \(name) is \(btf) bytes in the object but \(swift) bytes in Swift; hint: rebuild, trace_events.h changed"
        case .load(let object, let e, let log):
            let tail = log.isEmpty ? "" : "\n" + log.suffix(12).joined(separator: "\n")
            return "loading BPF object \(object) failed: \(Errno(e))\(tail)\nhint: set UPROBE_TRACE_DEBUG=1 for libbpf's full log (verifier output); the kernel needs BTF, ring buffers (5.8+) and bpf_ktime_get_boot_ns (5.8+)"
        case .uprobe(let program, let path, let offset, let pid, let e):
            let target = pid < 0 ? "all processes" : "pid \(pid)"
            let hint: String
            switch e {
            case ENOENT:
                hint = "\(path) does not exist, or the kernel lacks uprobes (CONFIG_UPROBE_EVENTS, the uprobe PMU in /sys/bus/event_source/devices/uprobe)"
            case EINVAL:
                hint = "the offset is not inside an executable segment of the file, or not an instruction boundary; check it with `uprobe-trace symbols resolve`"
            case ESRCH:
                hint = "process \(pid) does not exist (any more)"
            default:
                hint = "run `uprobe-trace doctor` to check kernel support"
            }
            return "attaching \(program) as uprobe at \(path)+0x\(String(offset, radix: 16)) (\(target)) failed: \(Errno(e)); hint: \(hint)"
        case .uprobeMulti(let program, let path, let sites, let pid, let e):
            let target = pid < 0 ? "all processes" : "pid \(pid)"
            let hint: String
            switch e {
            case ENOENT:
                hint = "\(path) does not exist"
            case EINVAL:
                hint = "an offset is not inside an executable segment of the file (check with `uprobe-trace symbols resolve`), or the kernel predates uprobe_multi links (6.6); UPROBE_TRACE_NO_UPROBE_MULTI=1 falls back to perf uprobes"
            case ESRCH:
                hint = "process \(pid) does not exist (any more)"
            default:
                hint = "UPROBE_TRACE_NO_UPROBE_MULTI=1 falls back to one perf uprobe per site; `uprobe-trace doctor` checks kernel support"
            }
            return "attaching \(program) as a uprobe_multi link at \(sites) sites of \(path) (\(target)) failed: \(Errno(e)); hint: \(hint)"
        case .kernelHook(let program, let section, let e):
            let hint = e == ENOENT
                ? "the running kernel has no such hook (tracepoint or function), or tracefs is not mounted (`uprobe-trace doctor` checks)"
                : "`uprobe-trace doctor` checks kernel support (BTF, tracefs)"
            return "attaching \(program) to \(section) failed: \(Errno(e)); hint: \(hint)"
        case .state(let what):
            return "\(what); hint: this is a bug in the caller (open, configure, load, attach, then read; detach last)"
        }
    }

    /// 77 for missing privilege, 1 otherwise (DESIGN.md, Operations).
    public var exitCode: Int32 {
        if case .permission = self { return 77 }
        return 1
    }

    /// Maps an errno from `operation` to `.permission` (EPERM, EACCES) or `.libbpf`.
    static func from(errno e: Int32, operation: String) -> AttachError {
        if e == EPERM || e == EACCES { return .permission(operation: operation) }
        return .libbpf(operation: operation, errno: e)
    }
}
