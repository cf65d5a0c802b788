import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Whether uprobe_multi links (Linux 6.6+) work in this process, and if not, why.
public enum UprobeMultiSupport: Sendable, Equatable {
    /// A link was created (and closed) here: `.multi` is the attach mode.
    case available
    /// The environment variable `variable` (UPROBE_TRACE_NO_UPROBE_MULTI) asks for perf uprobes.
    case disabled(variable: String)
    /// The kernel predates uprobe_multi links (6.6).
    case unsupported(release: String)
    /// The kernel refused with EPERM/EACCES at `step` (missing privileges).
    case refused(step: String, errno: Int32)
    /// `step` failed otherwise.
    case failed(step: String, errno: Int32)

    public var isAvailable: Bool { self == .available }
}

extension KernelFeatures {
    /// Set to anything but "" or "0", uprobe-trace attaches with one perf
    /// uprobe per site even where uprobe_multi links work (a fallback, and how
    /// tests exercise the perf path).
    public static let disableUprobeMultiVariable = "UPROBE_TRACE_NO_UPROBE_MULTI"

    /// `probeUprobeMulti()`, run once per process on first use.
    public static let uprobeMulti: UprobeMultiSupport = KernelFeatures().probeUprobeMulti()

    /// Finds out, for real, whether uprobe_multi links work: unless
    /// UPROBE_TRACE_NO_UPROBE_MULTI is set, loads `r0 = 0; exit` with
    /// expected_attach_type BPF_TRACE_UPROBE_MULTI (`bpf_prog_load`), links it
    /// (`bpf(BPF_LINK_CREATE)`) to a function of this binary for this process
    /// only, and closes both. Not cached: see `uprobeMulti`.
    public func probeUprobeMulti() -> UprobeMultiSupport {
        if let value = getenv(Self.disableUprobeMultiVariable).map({ String(cString: $0) }), !value.isEmpty, value != "0" {
            return .disabled(variable: Self.disableUprobeMultiVariable)
        }
        let old = !atLeast(6, 6)
        let prog = TrivialProgram.load(name: "ut_multi_probe", expectedAttachType: UprobeMultiABI.attachType)
        if prog < 0 {
            let e = -prog
            if e == EPERM || e == EACCES { return .refused(step: "bpf(BPF_PROG_LOAD)", errno: e) }
            return old ? .unsupported(release: release) : .failed(step: "bpf(BPF_PROG_LOAD)", errno: e)
        }
        defer { close(prog) }
        guard let site = OwnProbeSite.find() else {
            return .failed(step: "finding this executable's code in /proc/self/maps", errno: ENOENT)
        }
        switch UprobeMultiLink.create(programFD: prog, path: site.path, offsets: [site.offset], cookies: nil,
                                      pid: getpid(), retprobe: false) {
        case .success(let link):
            link.close()
            return .available
        case .failure(let e) where e.isPermission:
            return .refused(step: "bpf(BPF_LINK_CREATE)", errno: e.code)
        case .failure(let e):
            // EINVAL is how a kernel without uprobe_multi rejects attach type 48.
            return old ? .unsupported(release: release) : .failed(step: "bpf(BPF_LINK_CREATE)", errno: e.code)
        }
    }

    /// `uprobe_multi`: which attach path tracing will take, from `support`.
    public func uprobeMultiCheck(_ support: UprobeMultiSupport = KernelFeatures.uprobeMulti) -> FeatureCheck {
        let name = "uprobe_multi"
        switch support {
        case .available:
            return .ok(name, "multi links: created and closed a uprobe_multi link on this binary; each probed file gets one link for all its sites (one wait to detach; CAP_BPF and CAP_PERFMON suffice)")
        case .disabled(let variable):
            return .warn(name, "per-probe perf uprobes: \(variable) is set",
                         fix: "unset \(variable) to attach through uprobe_multi links (faster detach, no CAP_SYS_ADMIN on 6.16+)")
        case .unsupported(let release):
            return .ok(name, "per-probe perf uprobes: \(release) predates uprobe_multi links (6.6+); detaching takes ~150 ms per probe")
        case .refused(let step, let e):
            return .warn(name, "per-probe perf uprobes: \(step) for a uprobe_multi link was refused: \(SystemSupport.Errno(e).description)",
                         fix: Self.privilegeFix)
        case .failed(let step, let e):
            return .warn(name, "per-probe perf uprobes: \(step) for a uprobe_multi link failed: \(SystemSupport.Errno(e).description)",
                         fix: "use a kernel built with CONFIG_UPROBES=y and CONFIG_BPF_EVENTS=y; set \(Self.disableUprobeMultiVariable)=1 to skip this check")
        }
    }
}

/// A probe site that is always valid and never hit: the first instruction
/// of `ownProbeSite` in this executable, as (file path, file offset).
struct OwnProbeSite {
    let path: String
    let offset: UInt64

    /// Locates `ownProbeSite` through the /proc/self/maps line whose range
    /// holds its address: offset = address − start + the mapping's file offset.
    static func find() -> OwnProbeSite? {
        let fn: @convention(c) () -> Void = ownProbeSite
        let address = UInt64(UInt(bitPattern: unsafeBitCast(fn, to: UnsafeRawPointer.self)))
        guard let maps = SmallFile.text("/proc/self/maps") else { return nil }
        for line in maps.split(separator: "\n") {
            // start-end perms offset dev inode path
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6 else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                  start <= address, address < end, let fileOffset = UInt64(fields[2], radix: 16) else { continue }
            let path = fields[5].trimmingBlanks()
            guard path.hasPrefix("/"), !path.hasSuffix(" (deleted)") else { return nil }
            return OwnProbeSite(path: path, offset: address - start + fileOffset)
        }
        return nil
    }
}

/// Never called: its address is where the feature checks put their probes.
@inline(never)
func ownProbeSite() {}
