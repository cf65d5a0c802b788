import ArgumentParser
import Attach

#if canImport(Glibc)
import Glibc
#endif

/// `uprobe-trace doctor`: can this kernel, with this process's privileges,
/// trace? The kernel checks are `Attach.KernelFeatures` (done for real: a ring
/// buffer created, a program loaded, a uprobe and a uprobe_multi link opened);
/// this file reads the rest of the system and formats the report.
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
                             (6.6+) are reported (see uprobe_multi).
        btf                  /sys/kernel/btf/vmlinux, the kernel's own type
                             information, parsed by libbpf. The CO-RE programs
                             of --syscalls and --tcp are relocated against it;
                             the uprobe families do not need it.
        uprobe_pmu           /sys/bus/event_source/devices/uprobe: the perf PMU
                             through which uprobes are made without tracefs
                             (kernel built with CONFIG_UPROBE_EVENTS).
        ring_buffer          creates a BPF_MAP_TYPE_RINGBUF map, the way events
                             reach user space, and closes it.
        bpf_permission       that map plus loading a 2-instruction program of
                             the type uprobe programs have (kprobe): bpf() needs
                             CAP_BPF, tracing programs CAP_PERFMON as well (or
                             CAP_SYS_ADMIN, or root).
        uprobe_permission    opens, and at once closes, a uprobe perf event on
                             a function of this binary in this process only.
                             Linux 6.16, and stable kernels carrying commit
                             ba677dbe77af (July 2025), require CAP_SYS_ADMIN for
                             it; from 5.8 until then CAP_PERFMON was enough.
                             Only a warning when uprobe_multi links work.
        uprobe_multi         which attach path tracing takes: creates, and at
                             once closes, a uprobe_multi link (6.6+) on this
                             binary. If it works, each probed file gets one link
                             for all its sites (one wait to detach instead of
                             ~150 ms per probe; CAP_BPF and CAP_PERFMON suffice);
                             else one perf uprobe per site, and why.
                             UPROBE_TRACE_NO_UPROBE_MULTI=1 forces perf uprobes.
        probe_cost           what one uprobe hit costs here, measured on two
                             functions of this binary: one starting with an
                             instruction the kernel emulates (push %rbp), one
                             with an instruction it must single-step (sub); under
                             KVM the second is 10-30x dearer. Probes on hot
                             paths sit on emulated instructions where they can.
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
typealias DoctorCheck = FeatureCheck

/// The checks, in report order: the kernel's from `KernelFeatures`, the rest
/// (lockdown, tracefs, perf_event_paranoid, capabilities, memlock) read here
/// from procfs, sysfs and getrlimit.
struct Doctor {
    let kernel = KernelFeatures()
    let mounts: [(point: String, type: String)]

    static let privilegeFix = KernelFeatures.privilegeFix

    init() {
        mounts = (Self.text("/proc/self/mounts") ?? "").split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count >= 3 ? (String(f[1]), String(f[2])) : nil
        }
    }

    typealias Cap = Capabilities.Cap
    var effective: UInt64? { kernel.capabilities.effective }
    func has(_ c: Cap) -> Bool { kernel.capabilities.has(c) }
    func atLeast(_ major: Int, _ minor: Int) -> Bool { kernel.atLeast(major, minor) }
    func mounted(_ type: String, at points: [String]) -> String? {
        mounts.first { $0.type == type && points.contains($0.point) }?.point
    }

    func run() -> [DoctorCheck] {
        let pmu = kernel.uprobePMU()
        let (ring, permission) = kernel.bpf()
        let multi = KernelFeatures.uprobeMulti
        return [kernel.kernel(), kernel.btf(), pmu.check, ring, permission,
                kernel.uprobePermission(pmuType: pmu.type, uprobeMulti: multi), kernel.uprobeMultiCheck(multi), ProbeCostCheck.doctorCheck(),
                lockdown(), tracefs(), perfEventParanoid(), capabilities(), memlock()]
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
    static func text(_ path: String) -> String? { SmallFile.text(path) }

}

private extension StringProtocol {
    func trimmed() -> String {
        String(drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed())
    }
}
