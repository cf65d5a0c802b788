/// Errors of loading and attaching BPF programs; each message ends in a hint.
public enum AttachError: Error, Sendable, CustomStringConvertible {
    /// EPERM/EACCES from bpf() or perf_event_open: not root / missing capabilities.
    case permission(operation: String)
    /// Any other failure of a libbpf call, with errno.
    case libbpf(operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .permission(let op):
            return "\(op): permission denied; hint: run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE"
        case .libbpf(let op, let e):
            return "\(op) failed (errno \(e)); hint: run `uprobe-trace doctor` to check kernel support"
        }
    }

    /// 77 for missing privilege, 1 otherwise (DESIGN.md, Operations).
    public var exitCode: Int32 {
        if case .permission = self { return 77 }
        return 1
    }
}
