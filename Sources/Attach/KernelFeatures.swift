import SystemSupport
import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// What this kernel, with this process's privileges, can do for tracing.
/// Every check is done for real where it can be: a ring buffer is created
/// (`bpf(BPF_MAP_CREATE)`), a program loaded (`bpf(BPF_PROG_LOAD)`), a uprobe
/// opened (`perf_event_open`), a uprobe_multi link made (`bpf(BPF_LINK_CREATE)`),
/// each closed at once. The probes sit on a function of this binary, for this
/// process only, and never fire.
public struct KernelFeatures: Sendable {
    /// `uname -r`.
    public let release: String
    /// (major, minor) of `release`, nil when it does not start with them.
    public let version: KernelVersion?
    public let capabilities: Capabilities

    /// The fix for missing privileges, shared by every check that meets them.
    public static let privilegeFix = "run as root (sudo uprobe-trace ...), or grant CAP_BPF and CAP_PERFMON (setcap, or capabilities: add: [BPF, PERFMON] in a pod; newer kernels also want CAP_SYS_ADMIN for uprobes, see uprobe_permission)"

    /// Reads the release (`uname`) and CapEff; checks nothing yet.
    public init() {
        var u = utsname()
        uname(&u)
        release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        version = KernelVersion(release: release)
        capabilities = .current()
    }

    /// Whether the kernel is at least major.minor; true when the version is unknown.
    public func atLeast(_ major: Int, _ minor: Int) -> Bool {
        guard let version else { return true }
        return version >= KernelVersion(major: major, minor: minor)
    }

    /// `kernel`: the release, and whether it has what uprobe-trace needs (5.8+).
    public func kernel() -> FeatureCheck {
        let name = "kernel"
        guard version != nil else {
            return .warn(name, "\(release): cannot read a version from it", fix: "check that the kernel is 5.8 or newer (uname -r)")
        }
        if !atLeast(5, 8) {
            return .fail(name, "\(release): uprobe-trace needs 5.8+ (BPF ring buffers, bpf_ktime_get_boot_ns)",
                         fix: "boot a 5.8 or newer kernel (every current distribution kernel is)")
        }
        let multi = atLeast(6, 6) ? "uprobe_multi links available (6.6+)" : "no uprobe_multi links (6.6+; not needed)"
        return .ok(name, "\(release): uprobes, ring buffers and bpf_ktime_get_boot_ns (5.8+); \(multi)")
    }

    /// `btf`: /sys/kernel/btf/vmlinux, parsed by libbpf (`btf__load_vmlinux_btf`):
    /// the kernel types the CO-RE programs of --syscalls and --tcp are relocated against.
    public func btf() -> FeatureCheck {
        let path = "/sys/kernel/btf/vmlinux"
        var st = stat()
        guard stat(path, &st) == 0 else {
            return .warn("btf", "\(path) is missing: the kernel was built without CONFIG_DEBUG_INFO_BTF; --syscalls and --tcp (CO-RE programs) cannot load, the uprobe families do not need it",
                         fix: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (the default in Debian, Ubuntu, Fedora and RHEL kernels)")
        }
        guard let btf = btf__load_vmlinux_btf() else {
            let e = errno
            return .warn("btf", "\(path) exists but libbpf cannot parse it (\(Errno(e))); --syscalls and --tcp cannot load",
                         fix: "update libbpf (Debian: libbpf1) to one that knows this kernel's BTF")
        }
        let types = btf__type_cnt(btf)
        btf__free(btf)
        return .ok("btf", "\(path) (\(st.st_size / 1024) KiB, \(types) types): CO-RE programs (--syscalls, --tcp) can load")
    }

    /// `uprobe_pmu`: the perf PMU type uprobes are created with, from sysfs.
    public func uprobePMU() -> (check: FeatureCheck, type: UInt32?) {
        let path = "/sys/bus/event_source/devices/uprobe/type"
        guard let text = SmallFile.text(path), let type = UInt32(text.trimmingBlanks()) else {
            return (.fail("uprobe_pmu", "\(path) is missing: this kernel cannot create uprobes through perf_event_open",
                          fix: "use a kernel built with CONFIG_UPROBE_EVENTS=y (and CONFIG_UPROBES), 4.17 or newer"), nil)
        }
        return (.ok("uprobe_pmu", "perf PMU type \(type) (\(path))"), type)
    }

    /// `ring_buffer` and `bpf_permission`: creates a BPF_MAP_TYPE_RINGBUF map
    /// (`bpf_map_create`), then loads the smallest kprobe-type program
    /// (`bpf_prog_load`); both closed at once.
    public func bpf() -> (ring: FeatureCheck, permission: FeatureCheck) {
        let size = UInt32(max(4096, Int(getpagesize())))
        let mapFD = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "doctor_ring", 0, 0, size, nil)
        let mapErrno = mapFD < 0 ? -mapFD : 0
        if mapFD >= 0 { close(mapFD) }

        let progFD = TrivialProgram.load(name: "doctor_probe", expectedAttachType: nil)
        let progErrno = progFD < 0 ? -progFD : 0
        if progFD >= 0 { close(progFD) }

        let denied: (Int32) -> Bool = { $0 == EPERM || $0 == EACCES }
        let ring: FeatureCheck
        switch mapErrno {
        case 0:
            ring = .ok("ring_buffer", "created and closed a \(size / 1024) KiB BPF_MAP_TYPE_RINGBUF map")
        case let e where denied(e):
            ring = .warn("ring_buffer", "not verified: bpf(BPF_MAP_CREATE) was refused (\(SystemSupport.Errno(e).description))",
                         fix: "run uprobe-trace doctor with the privileges tracing will have (see bpf_permission)")
        case let e:
            ring = .fail("ring_buffer", "bpf(BPF_MAP_CREATE) of a BPF_MAP_TYPE_RINGBUF map failed: \(SystemSupport.Errno(e).description)",
                         fix: "boot a 5.8 or newer kernel with CONFIG_BPF_SYSCALL=y")
        }
        let permission: FeatureCheck
        if denied(mapErrno) || denied(progErrno) {
            let what = denied(mapErrno) ? "bpf(BPF_MAP_CREATE)" : "bpf(BPF_PROG_LOAD) of a kprobe-type program"
            permission = .fail("bpf_permission", "\(what) was refused: \(SystemSupport.Errno(denied(mapErrno) ? mapErrno : progErrno).description)",
                               fix: Self.privilegeFix)
        } else if progErrno != 0 {
            permission = .fail("bpf_permission", "bpf(BPF_PROG_LOAD) of a 2-instruction kprobe-type program failed: \(SystemSupport.Errno(progErrno).description)",
                               fix: "use a kernel built with CONFIG_BPF_SYSCALL=y and CONFIG_BPF_EVENTS=y")
        } else {
            permission = .ok("bpf_permission", "bpf(BPF_MAP_CREATE) and bpf(BPF_PROG_LOAD) of a kprobe-type program succeeded")
        }
        return (ring, permission)
    }

    /// `uprobe_permission`: opens a perf-event uprobe (`perf_event_open` on the
    /// uprobe PMU) on a function of this binary, for this process only, and
    /// closes it: the kernel's own verdict. A refusal only warns when
    /// `uprobeMulti` says uprobe_multi links will be used instead.
    public func uprobePermission(pmuType: UInt32?, uprobeMulti: UprobeMultiSupport = KernelFeatures.uprobeMulti) -> FeatureCheck {
        let name = "uprobe_permission"
        guard let pmuType else {
            return .fail(name, "not checked: no uprobe PMU", fix: "see uprobe_pmu")
        }
        guard let site = OwnProbeSite.find() else {
            return .warn(name, "not checked: cannot find this executable's code in /proc/self/maps", fix: "run uprobe-trace from a readable file, with /proc mounted")
        }
        let fd = UprobePerfEvent.open(pmuType: pmuType, path: site.path, offset: site.offset, pid: getpid())
        let e = errno
        if fd >= 0 {
            close(fd)
            return .ok(name, "perf_event_open of a uprobe (on this binary, this process) succeeded")
        }
        let caps = capabilities
        if e == EPERM || e == EACCES {
            let needsAdmin = caps.has(.perfmon) && !caps.has(.sysAdmin)
            let detail = "perf_event_open of a uprobe was refused: \(SystemSupport.Errno(e).description)"
                + (needsAdmin ? "; this kernel requires CAP_SYS_ADMIN for uprobes, CAP_PERFMON is not enough" : "")
            if uprobeMulti.isAvailable {
                return .warn(name, detail + "; not needed: probes attach through uprobe_multi links (see uprobe_multi)",
                             fix: "nothing while uprobe_multi links work; with UPROBE_TRACE_NO_UPROBE_MULTI=1, grant CAP_SYS_ADMIN (or run as root)")
            }
            return .fail(name, detail,
                         fix: needsAdmin ? "grant CAP_SYS_ADMIN (or run as root)"
                            : "run as root, or grant CAP_PERFMON (CAP_SYS_ADMIN on Linux 6.16+ and stable kernels with commit ba677dbe77af)")
        }
        return .fail(name, "perf_event_open of a uprobe failed: \(SystemSupport.Errno(e).description)",
                     fix: "use a kernel built with CONFIG_UPROBE_EVENTS=y")
    }
}

/// The 2-instruction program the checks load: `r0 = 0; exit`.
enum TrivialProgram {
    /// Loads it as a kprobe-type program (`bpf_prog_load`), the type uprobe
    /// programs have; returns the fd or -errno.
    static func load(name: String, expectedAttachType: UInt32?) -> Int32 {
        var insns = [bpf_insn(), bpf_insn()]
        insns[0].code = 0xb7  // BPF_ALU64 | BPF_MOV | BPF_K: r0 = imm (0)
        insns[1].code = 0x95  // BPF_JMP | BPF_EXIT
        var opts = bpf_prog_load_opts()
        opts.sz = MemoryLayout<bpf_prog_load_opts>.size
        if let expectedAttachType { opts.expected_attach_type = bpf_attach_type(rawValue: expectedAttachType) }
        return bpf_prog_load(BPF_PROG_TYPE_KPROBE, name, "GPL", &insns, insns.count, &opts)
    }
}
