import ArgumentParser
import CLibBPF
import Symbols

#if canImport(Glibc)
import Glibc
#endif

/// `uprobe-trace doctor`: can this kernel, with this process's privileges,
/// trace? Every check is done for real where it can be (a ring buffer is
/// created, a program loaded, a uprobe opened), not inferred from versions.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check whether this kernel and these privileges can trace, with a fix for every problem.",
        discussion: """
        One line per check: ok, warn (tracing works, but something is off or
        unknown) or FAIL (tracing cannot work), each non-ok line followed by
        its fix. Exit 0 when tracing can work, 1 when a FAIL line says it cannot.
        Run it with the privileges you will trace with (sudo, or in the pod).

        kernel               uname release. Uprobes, BPF ring buffers and
                             bpf_ktime_get_boot_ns need 5.8+. uprobe_multi links
                             (6.6+) are reported; uprobe-trace does not need them.
        btf                  /sys/kernel/btf/vmlinux, the kernel's own type
                             information. uprobe-trace's programs make no CO-RE
                             relocations, so it is optional here; bpftrace needs it.
        uprobe_pmu           /sys/bus/event_source/devices/uprobe: the perf PMU
                             through which uprobes are made without tracefs
                             (kernel built with CONFIG_UPROBE_EVENTS).
        ring_buffer          creates a BPF_MAP_TYPE_RINGBUF map, the way events
                             reach user space, and closes it.
        bpf_permission       that map plus loading a 2-instruction program of
                             the type uprobe programs have (kprobe): bpf() needs
                             CAP_BPF, tracing programs CAP_PERFMON as well (or
                             CAP_SYS_ADMIN, or root).
        uprobe_permission    opens, and at once closes, a uprobe perf event at
                             this binary's entry point in this process only.
                             Linux 6.16, and stable kernels carrying commit
                             ba677dbe77af (July 2025), require CAP_SYS_ADMIN for
                             it; from 5.8 until then CAP_PERFMON was enough.
        lockdown             /sys/kernel/security/lockdown. "integrity" forbids
                             bpf_probe_write_user (never used here);
                             "confidentiality" also forbids bpf_probe_read_kernel,
                             the old bpf_probe_read and tracefs. uprobe-trace reads
                             user memory with bpf_probe_read_user only, which every
                             mode allows.
        tracefs              mounted at /sys/kernel/tracing or
                             /sys/kernel/debug/tracing? uprobe-trace does not need
                             it (it uses the uprobe PMU); bpftrace does.
        perf_event_paranoid  /proc/sys/kernel/perf_event_paranoid. Above 1, perf
                             events that can see the kernel (uprobe events can)
                             need CAP_PERFMON; with it, or CAP_SYS_ADMIN, the value
                             does not matter.
        capabilities         CapEff in /proc/self/status: CAP_BPF (39),
                             CAP_PERFMON (38), CAP_SYS_PTRACE (19: other users'
                             /proc/PID/maps and /proc/PID/root), CAP_SYS_RESOURCE
                             (24: raising the memlock limit, kernels before 5.11),
                             CAP_SYS_ADMIN (21: covers BPF and PERFMON).
        memlock              RLIMIT_MEMLOCK. Kernels before 5.11 charge BPF maps
                             to it; 5.11+ charge the memory cgroup instead.

        Examples:
          sudo uprobe-trace doctor
          uprobe-trace doctor --json
        """
    )

    @Flag(help: "Print one JSON document: {\"can_trace\": bool, \"checks\": [{name, status, detail, fix}]}.")
    var json = false

    func run() throws {
        let checks = Doctor().run()
        let fails = checks.filter { $0.status == .fail }
        let warns = checks.filter { $0.status == .warn }
        let out = Output()
        if json {
            var w = JSONWriter(out)
            w.beginObject()
            w.bool("can_trace", fails.isEmpty)
            w.beginArray("checks")
            for c in checks {
                w.beginObject()
                w.string("name", c.name)
                w.string("status", c.status.rawValue)
                w.string("detail", c.detail)
                w.string("fix", c.fix)
                w.endObject()
            }
            w.endArray()
            w.endObject()
            out.byte(10)
        } else {
            let width = checks.map(\.name.count).max() ?? 0
            for c in checks {
                let label = c.status == .fail ? "FAIL" : c.status.rawValue
                let pad = String(repeating: " ", count: width - c.name.count)
                out.line(label.padding(4) + "  " + c.name + pad + "  " + c.detail)
                if let fix = c.fix { out.line(String(repeating: " ", count: width + 8) + "fix: " + fix) }
            }
            let warnText = warns.isEmpty ? "" : " (\(warns.count) warning\(warns.count == 1 ? "" : "s"))"
            if fails.isEmpty {
                out.line("verdict: tracing can work here" + warnText)
            } else {
                out.line("verdict: tracing cannot work here: \(fails.map(\.name).joined(separator: ", ")) failed" + warnText)
            }
        }
        out.flush()
        if !fails.isEmpty { Glibc.exit(1) }
    }
}

private extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

/// One line of the report.
struct DoctorCheck {
    enum Status: String { case ok, warn, fail }
    let name: String
    let status: Status
    let detail: String
    /// A concrete action; nil exactly when the status is ok.
    let fix: String?

    static func ok(_ name: String, _ detail: String) -> DoctorCheck { .init(name: name, status: .ok, detail: detail, fix: nil) }
    static func warn(_ name: String, _ detail: String, fix: String) -> DoctorCheck { .init(name: name, status: .warn, detail: detail, fix: fix) }
    static func fail(_ name: String, _ detail: String, fix: String) -> DoctorCheck { .init(name: name, status: .fail, detail: detail, fix: fix) }
}

/// The checks, in report order. Reads only the running system; the one uprobe
/// it opens sits in this process's own copy of its entry point and is removed at once.
struct Doctor {
    /// Capability numbers from linux/capability.h.
    enum Cap: Int, CaseIterable {
        case sysPtrace = 19, sysAdmin = 21, sysResource = 24, perfmon = 38, bpf = 39
        var name: String {
            switch self {
            case .sysPtrace: "CAP_SYS_PTRACE"
            case .sysAdmin: "CAP_SYS_ADMIN"
            case .sysResource: "CAP_SYS_RESOURCE"
            case .perfmon: "CAP_PERFMON"
            case .bpf: "CAP_BPF"
            }
        }
    }

    let release: String
    /// (major, minor), nil when the release string does not start with them.
    let version: (Int, Int)?
    let effective: UInt64?
    let mounts: [(point: String, type: String)]

    static let privilegeFix = "run as root (sudo uprobe-trace ...), or grant CAP_BPF and CAP_PERFMON (setcap, or capabilities: add: [BPF, PERFMON] in a pod; newer kernels also want CAP_SYS_ADMIN for uprobes, see uprobe_permission)"

    init() {
        var u = utsname()
        uname(&u)
        release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        version = parts.count == 2 ? (parts[0], parts[1]) : nil
        effective = Self.text("/proc/self/status")?
            .split(separator: "\n").first { $0.hasPrefix("CapEff:") }
            .flatMap { UInt64($0.dropFirst("CapEff:".count).trimmed(), radix: 16) }
        mounts = (Self.text("/proc/self/mounts") ?? "").split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count >= 3 ? (String(f[1]), String(f[2])) : nil
        }
    }

    func has(_ c: Cap) -> Bool { (effective ?? 0) & (1 << UInt64(c.rawValue)) != 0 }
    func atLeast(_ major: Int, _ minor: Int) -> Bool {
        guard let (a, b) = version else { return true }
        return a > major || (a == major && b >= minor)
    }
    func mounted(_ type: String, at points: [String]) -> String? {
        mounts.first { $0.type == type && points.contains($0.point) }?.point
    }

    func run() -> [DoctorCheck] {
        let pmu = uprobePMU()
        let (ring, permission) = bpfChecks()
        return [kernel(), btf(), pmu.check, ring, permission, uprobePermission(pmuType: pmu.type), lockdown(), tracefs(),
                perfEventParanoid(), capabilities(), memlock()]
    }

    func kernel() -> DoctorCheck {
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

    func btf() -> DoctorCheck {
        let path = "/sys/kernel/btf/vmlinux"
        var st = stat()
        guard stat(path, &st) == 0 else {
            return .warn("btf", "\(path) is missing: the kernel was built without CONFIG_DEBUG_INFO_BTF; uprobe-trace does not need it, bpftrace and CO-RE tools do",
                         fix: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (the default in Debian, Ubuntu, Fedora and RHEL kernels)")
        }
        return .ok("btf", "\(path) (\(st.st_size / 1024) KiB)")
    }

    func uprobePMU() -> (check: DoctorCheck, type: UInt32?) {
        let path = "/sys/bus/event_source/devices/uprobe/type"
        guard let text = Self.text(path), let type = UInt32(text.trimmed()) else {
            return (.fail("uprobe_pmu", "\(path) is missing: this kernel cannot create uprobes through perf_event_open",
                          fix: "use a kernel built with CONFIG_UPROBE_EVENTS=y (and CONFIG_UPROBES), 4.17 or newer"), nil)
        }
        return (.ok("uprobe_pmu", "perf PMU type \(type) (\(path))"), type)
    }

    /// Creates a ring buffer map, then loads the smallest kprobe-type program;
    /// both closed at once.
    func bpfChecks() -> (ring: DoctorCheck, permission: DoctorCheck) {
        let size = UInt32(max(4096, Int(getpagesize())))
        let mapFD = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "doctor_ring", 0, 0, size, nil)
        let mapErrno = mapFD < 0 ? -mapFD : 0
        if mapFD >= 0 { close(mapFD) }

        // r0 = 0; exit
        var insns = [bpf_insn(), bpf_insn()]
        insns[0].code = 0xb7
        insns[1].code = 0x95
        let progFD = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "doctor_probe", "GPL", &insns, 2, nil)
        let progErrno = progFD < 0 ? -progFD : 0
        if progFD >= 0 { close(progFD) }

        let denied: (Int32) -> Bool = { $0 == EPERM || $0 == EACCES }
        let ring: DoctorCheck
        switch mapErrno {
        case 0:
            ring = .ok("ring_buffer", "created and closed a \(size / 1024) KiB BPF_MAP_TYPE_RINGBUF map")
        case let e where denied(e):
            ring = .warn("ring_buffer", "not verified: bpf(BPF_MAP_CREATE) was refused (\(Self.errnoText(e)))",
                         fix: "run uprobe-trace doctor with the privileges tracing will have (see bpf_permission)")
        case let e:
            ring = .fail("ring_buffer", "bpf(BPF_MAP_CREATE) of a BPF_MAP_TYPE_RINGBUF map failed: \(Self.errnoText(e))",
                         fix: "boot a 5.8 or newer kernel with CONFIG_BPF_SYSCALL=y")
        }
        let permission: DoctorCheck
        if denied(mapErrno) || denied(progErrno) {
            let what = denied(mapErrno) ? "bpf(BPF_MAP_CREATE)" : "bpf(BPF_PROG_LOAD) of a kprobe-type program"
            permission = .fail("bpf_permission", "\(what) was refused: \(Self.errnoText(denied(mapErrno) ? mapErrno : progErrno))",
                               fix: Self.privilegeFix)
        } else if progErrno != 0 {
            permission = .fail("bpf_permission", "bpf(BPF_PROG_LOAD) of a 2-instruction kprobe-type program failed: \(Self.errnoText(progErrno))",
                               fix: "use a kernel built with CONFIG_BPF_SYSCALL=y and CONFIG_BPF_EVENTS=y")
        } else {
            permission = .ok("bpf_permission", "bpf(BPF_MAP_CREATE) and bpf(BPF_PROG_LOAD) of a kprobe-type program succeeded")
        }
        return (ring, permission)
    }

    /// Opens a uprobe perf event at this executable's ELF entry point, for this
    /// process only, and closes it: the kernel's own verdict on uprobe permission.
    func uprobePermission(pmuType: UInt32?) -> DoctorCheck {
        let name = "uprobe_permission"
        guard let pmuType else {
            return .fail(name, "not checked: no uprobe PMU", fix: "see uprobe_pmu")
        }
        let path = "/proc/self/exe"
        guard let elf = try? ELFFile(path: path), let offset = elf.fileOffset(forVirtualAddress: elf.header.entry) else {
            return .warn(name, "not checked: cannot read this executable's entry point", fix: "run uprobe-trace from a readable file")
        }
        var attr = perf_event_attr()
        attr.size = UInt32(MemoryLayout<perf_event_attr>.size)
        attr.type = pmuType
        attr.config2 = offset
        let fd = path.withCString { p -> Int32 in
            attr.config1 = UInt64(UInt(bitPattern: p))
            return uprobe_trace_perf_event_open(&attr, getpid(), -1, -1, UInt(PERF_FLAG_FD_CLOEXEC))
        }
        let e = errno
        if fd >= 0 {
            close(fd)
            return .ok(name, "perf_event_open of a uprobe (on this binary, this process) succeeded")
        }
        if e == EPERM || e == EACCES {
            let needsAdmin = has(.perfmon) && !has(.sysAdmin)
            return .fail(name, "perf_event_open of a uprobe was refused: \(Self.errnoText(e))"
                            + (needsAdmin ? "; this kernel requires CAP_SYS_ADMIN for uprobes, CAP_PERFMON is not enough" : ""),
                         fix: needsAdmin ? "grant CAP_SYS_ADMIN (or run as root)"
                            : "run as root, or grant CAP_PERFMON (CAP_SYS_ADMIN on Linux 6.16+ and stable kernels with commit ba677dbe77af)")
        }
        return .fail(name, "perf_event_open of a uprobe failed: \(Self.errnoText(e))",
                     fix: "use a kernel built with CONFIG_UPROBE_EVENTS=y")
    }

    func lockdown() -> DoctorCheck {
        let name = "lockdown"
        let path = "/sys/kernel/security/lockdown"
        guard let text = Self.text(path) else {
            if mounted("securityfs", at: ["/sys/kernel/security"]) != nil {
                return .ok(name, "no lockdown LSM (\(path) absent): nothing restricted")
            }
            return .warn(name, "unknown: securityfs is not mounted at /sys/kernel/security (no lockdown mode blocks uprobe-trace; it can block bpftrace)",
                         fix: "mount -t securityfs securityfs /sys/kernel/security, then run uprobe-trace doctor again")
        }
        let mode = text.split(separator: " ").first { $0.hasPrefix("[") }.map { String($0.dropFirst().prefix { $0 != "]" }) } ?? "?"
        switch mode {
        case "none":
            return .ok(name, "none")
        case "integrity":
            return .ok(name, "integrity: of BPF, only bpf_probe_write_user is forbidden; uprobe-trace never writes user memory")
        case "confidentiality":
            return .warn(name, "confidentiality: bpf_probe_read_kernel, bpf_probe_read and tracefs are forbidden; uprobe-trace (bpf_probe_read_user only) works, bpftrace scripts that read kernel memory or use tracefs do not",
                         fix: "to use those tools, boot with lockdown=integrity (with Secure Boot the distribution may force confidentiality)")
        default:
            return .warn(name, "unrecognized mode in \(path): \(text.trimmed())", fix: "check the kernel's lockdown documentation (man 7 kernel_lockdown)")
        }
    }

    func tracefs() -> DoctorCheck {
        if let point = mounted("tracefs", at: ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]) {
            return .ok("tracefs", "mounted at \(point) (uprobe-trace does not need it; bpftrace does)")
        }
        return .warn("tracefs", "not mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing (uprobe-trace does not need it; bpftrace does)",
                     fix: "mount -t tracefs nodev /sys/kernel/tracing")
    }

    func perfEventParanoid() -> DoctorCheck {
        let path = "/proc/sys/kernel/perf_event_paranoid"
        guard let value = Self.text(path).flatMap({ Int($0.trimmed()) }) else {
            return .warn("perf_event_paranoid", "\(path) is unreadable", fix: "use a kernel built with CONFIG_PERF_EVENTS=y")
        }
        if has(.perfmon) || has(.sysAdmin) {
            return .ok("perf_event_paranoid", "\(value); does not apply: this process has \(has(.perfmon) ? "CAP_PERFMON" : "CAP_SYS_ADMIN")")
        }
        if value <= 1 {
            return .ok("perf_event_paranoid", "\(value): allows perf events that see the kernel without CAP_PERFMON (uprobes still need it)")
        }
        return .warn("perf_event_paranoid", "\(value): perf events that can see the kernel (uprobe events can) need CAP_PERFMON, which this process lacks",
                     fix: "grant CAP_PERFMON or run as root (uprobes need it whatever the value)")
    }

    func capabilities() -> DoctorCheck {
        let name = "capabilities"
        guard effective != nil else {
            return .warn(name, "cannot read CapEff from /proc/self/status", fix: "mount /proc")
        }
        let order: [Cap] = [.bpf, .perfmon, .sysPtrace, .sysResource, .sysAdmin]
        let present = order.filter(has).map(\.name)
        let missing = order.filter { !has($0) }.map(\.name)
        let detail = "effective: " + (present.isEmpty ? "none" : present.joined(separator: " "))
            + (missing.isEmpty ? "" : "; not effective: " + missing.joined(separator: " "))
        if !(has(.sysAdmin) || (has(.bpf) && has(.perfmon))) {
            return .fail(name, detail, fix: Self.privilegeFix)
        }
        if !has(.sysPtrace) && !has(.sysAdmin) {
            return .warn(name, detail + " (without CAP_SYS_PTRACE only processes of this user with no more capabilities can be traced)",
                         fix: "grant CAP_SYS_PTRACE to trace other users' processes")
        }
        return .ok(name, detail)
    }

    func memlock() -> DoctorCheck {
        var rl = rlimit()
        getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &rl)
        let unlimited = rl.rlim_cur == rlim_t.max  // RLIM_INFINITY
        let text = unlimited ? "unlimited" : "\(rl.rlim_cur / 1024) KiB"
        if atLeast(5, 11) {
            return .ok("memlock", "\(text); not used for BPF memory since 5.11 (charged to the memory cgroup)")
        }
        // Before 5.11 every map counts against it; libbpf raises it when it may.
        if unlimited || rl.rlim_cur >= 64 << 20 || has(.sysResource) {
            return .ok("memlock", "\(text)\(has(.sysResource) ? "; CAP_SYS_RESOURCE lets libbpf raise it" : "")")
        }
        return .warn("memlock", "\(text): kernels before 5.11 charge BPF maps to it (each probe family has a 4 MiB ring buffer)",
                     fix: "ulimit -l unlimited (LimitMEMLOCK=infinity in a systemd unit) or grant CAP_SYS_RESOURCE")
    }

    /// A small file (sysfs, procfs) as text, nil if it cannot be read.
    static func text(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func errnoText(_ e: Int32) -> String { "\(String(cString: strerror(e))) (errno \(e))" }
}

private extension StringProtocol {
    func trimmed() -> String {
        String(drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed())
    }
}
