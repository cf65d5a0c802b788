import Foundation
import Testing

/// `uprobe-trace doctor`, run as the real binary: as root, as nobody, and in a
/// private mount namespace where tracefs is gone and securityfs is mounted.
@Suite struct DoctorTests {
    static let allChecks = ["kernel", "btf", "uprobe_pmu", "ring_buffer", "bpf_permission", "uprobe_permission",
                            "uprobe_multi", "probe_cost", "lockdown", "tracefs", "perf_event_paranoid", "capabilities", "memlock"]
    /// Without any of these ok, nothing can be traced.
    static let essential = ["kernel", "uprobe_pmu", "ring_buffer", "bpf_permission", "uprobe_permission", "capabilities"]

    /// The report's line for one check: "STATUS  name  detail".
    func line(_ r: RunResult, _ name: String) -> Substring? {
        r.stdout.split(separator: "\n").first { l in
            let f = l.split(separator: " ", omittingEmptySubsequences: true)
            return f.count >= 2 && f[1] == name
        }
    }

    /// The `fix:` line that follows a check's line, if any.
    func fix(_ r: RunResult, _ name: String) -> String? {
        let lines = r.stdout.split(separator: "\n")
        guard let i = lines.firstIndex(where: { $0.split(separator: " ").dropFirst().first == Substring(name) }),
              i + 1 < lines.count else { return nil }
        let next = lines[i + 1].trimmingCharacters(in: .whitespaces)
        return next.hasPrefix("fix: ") ? String(next.dropFirst(5)) : nil
    }

    func checks(_ r: RunResult) throws -> [[String: Any]] {
        try #require(json(r.stdout)["checks"] as? [[String: Any]])
    }

    /// Runs the tool as user nobody (uid 65534, no capabilities) when we are root.
    func asNobody(_ args: [String]) throws -> RunResult {
        if getuid() == 0 {
            return try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Repo.tool] + args)
        }
        return try run(Repo.tool, args)
    }

    /// This test process's effective capability bits (the tool inherits them).
    func ownCapabilities() throws -> UInt64 {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("CapEff:") })
        return try #require(UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16))
    }

    @Test func rootPassesEveryEssentialCheck() throws {
        guard requireRoot() else { return }
        let r = try tool("doctor")
        print(r.stdout)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        for name in Self.allChecks {
            let l = line(r, name)
            #expect(l != nil, "no line for \(name)")
            guard let l else { continue }
            let status = l.split(separator: " ").first.map(String.init)
            #expect(["ok", "warn", "FAIL"].contains(status ?? ""), "\(l)")
            // Every non-ok line is followed by its fix; an ok line by none.
            #expect((status == "ok") == (fix(r, name) == nil), "\(name): \(l) / fix \(fix(r, name) ?? "none")")
        }
        for name in Self.essential {
            #expect(line(r, name)?.hasPrefix("ok ") == true, "\(name): \(line(r, name) ?? "missing")")
        }
        let release = try run("/bin/uname", ["-r"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line(r, "kernel")?.contains(release) == true)
        #expect(r.stdout.split(separator: "\n").last?.hasPrefix("verdict: tracing can work here") == true)
    }

    @Test func jsonListsEveryCheck() throws {
        let r = try tool("doctor", "--json")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        let doc = try json(r.stdout)
        let list = try checks(r)
        #expect(list.compactMap { $0["name"] as? String } == Self.allChecks)
        var anyFail = false
        for c in list {
            let status = c["status"] as? String ?? "?"
            #expect(["ok", "warn", "fail"].contains(status), "\(c)")
            #expect((c["detail"] as? String)?.isEmpty == false, "\(c)")
            // fix is null exactly when the check is ok.
            #expect((c["fix"] is NSNull) == (status == "ok"), "\(c)")
            anyFail = anyFail || status == "fail"
        }
        #expect(doc["can_trace"] as? Bool == !anyFail)
        #expect(r.status == (anyFail ? 1 : 0))
        if getuid() == 0 { #expect(r.status == 0 && !anyFail) }

        // Independent cross-checks: tracefs against /proc/self/mounts, the
        // capability list against this process's own CapEff.
        let byName = Dictionary(list.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        let mounts = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8).split(separator: "\n").map { $0.split(separator: " ") }
        let tracefs = mounts.contains { $0.count > 2 && $0[2] == "tracefs" && ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"].contains(String($0[1])) }
        #expect((byName["tracefs"]?["status"] as? String == "ok") == tracefs)
        let caps = try ownCapabilities()
        let detail = byName["capabilities"]?["detail"] as? String ?? ""
        let effective = detail.components(separatedBy: "; not effective").first ?? ""
        for (name, bit) in [("CAP_BPF", 39), ("CAP_PERFMON", 38), ("CAP_SYS_PTRACE", 19), ("CAP_SYS_RESOURCE", 24), ("CAP_SYS_ADMIN", 21)] {
            #expect(effective.contains(name) == (caps & (1 << UInt64(bit)) != 0), "\(name) in \(detail)")
        }
    }

    @Test func nobodyFailsBPFPermissionWithFix() throws {
        let r = try asNobody(["doctor"])
        print(r.stdout)
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        #expect(line(r, "bpf_permission")?.hasPrefix("FAIL ") == true, "\(r.stdout)")
        let f = fix(r, "bpf_permission") ?? ""
        #expect(f.contains("root") && f.contains("CAP_BPF") && f.contains("CAP_PERFMON"), "fix: \(f)")
        #expect(line(r, "capabilities")?.hasPrefix("FAIL ") == true)
        #expect(r.stdout.contains("verdict: tracing cannot work here") && r.stdout.contains("bpf_permission"))

        let j = try asNobody(["doctor", "--json"])
        #expect(j.status == 1)
        let doc = try json(j.stdout)
        #expect(doc["can_trace"] as? Bool == false)
        let bpf = try checks(j).first { $0["name"] as? String == "bpf_permission" }
        #expect(bpf?["status"] as? String == "fail")
        #expect((bpf?["fix"] as? String)?.contains("CAP_BPF") == true)
    }

    /// In a private mount namespace: without tracefs the line warns with the
    /// mount command; with securityfs mounted the lockdown mode is read as the
    /// kernel states it.
    @Test func tracefsAndLockdownInPrivateMountNamespace() throws {
        guard requireRoot() else { return }
        let script = """
        umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug/tracing 2>/dev/null
        mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
        cat /sys/kernel/security/lockdown >&2 2>/dev/null
        exec "$0" doctor
        """
        let r = try run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script, Repo.tool])
        print(r.stdout)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(line(r, "tracefs")?.hasPrefix("warn ") == true, "\(r.stdout)")
        #expect(fix(r, "tracefs") == "mount -t tracefs nodev /sys/kernel/tracing")
        // The kernel marks the active mode in brackets: "none [integrity] confidentiality".
        let modes = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        let l = try #require(line(r, "lockdown"))
        if modes.isEmpty {
            // Kernel without the lockdown LSM: securityfs is mounted, the file is not there.
            #expect(l.hasPrefix("ok ") && l.contains("no lockdown LSM"), "\(l)")
            return
        }
        let active = try #require(modes.split(separator: " ").first { $0.hasPrefix("[") }).dropFirst().dropLast()
        #expect(l.contains(" \(active)"), "\(l) should name \(active)")
        #expect(l.hasPrefix(active == "confidentiality" ? "warn " : "ok "))
    }

    /// The uprobe_multi line names the attach path tracing will take: multi
    /// links where the kernel creates one (6.6+ as root), perf uprobes when
    /// UPROBE_TRACE_NO_UPROBE_MULTI forces them, the same in text and JSON.
    @Test func uprobeMultiLineNamesTheAttachPath() throws {
        guard requireRoot() else { return }
        let release = try run("/bin/uname", ["-r"]).stdout
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        let multiKernel = parts.count == 2 && (parts[0], parts[1]) >= (6, 6)
        let r = try tool("doctor")
        let l = try #require(line(r, "uprobe_multi"), "\(r.stdout)")
        if multiKernel {
            #expect(l.hasPrefix("ok ") && l.contains("multi links"), "\(l)")
        } else {
            #expect(l.contains("per-probe perf uprobes"), "\(l)")
        }

        let forced = try run("/usr/bin/env", ["UPROBE_TRACE_NO_UPROBE_MULTI=1", Repo.tool, "doctor", "--json"])
        #expect(forced.status == 0, "\(forced.stdout)\(forced.stderr)")
        let multi = try #require(checks(forced).first { $0["name"] as? String == "uprobe_multi" })
        #expect(multi["status"] as? String == "warn", "\(multi)")
        #expect((multi["detail"] as? String)?.contains("per-probe perf uprobes: UPROBE_TRACE_NO_UPROBE_MULTI is set") == true, "\(multi)")
        #expect((multi["fix"] as? String)?.contains("unset UPROBE_TRACE_NO_UPROBE_MULTI") == true, "\(multi)")
    }

    @Test func helpExplainsEveryCheck() throws {
        let r = try tool("doctor", "--help")
        #expect(r.status == 0)
        for name in Self.allChecks { #expect(r.stdout.contains(name), "--help does not explain \(name)") }
        #expect(r.stdout.contains("CAP_SYS_ADMIN") && r.stdout.contains("bpf_probe_read_user"))
    }
}
