import Foundation
import Testing

/// `deploy/daemonset.yaml`, parsed by python3-yaml (an independent YAML
/// parser), and the agent's arguments and capability set run for real.
@Suite struct DeployManifestTests {
    static let manifest = Repo.root.appendingPathComponent("deploy/daemonset.yaml").path
    static let capabilities: Set<String> = ["BPF", "PERFMON", "SYS_PTRACE", "SYS_RESOURCE"]

    /// Every document of the manifest, as JSON values.
    func documents() throws -> [[String: Any]] {
        let r = try run("/usr/bin/python3", ["-c", "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
                                             Self.manifest])
        try #require(r.status == 0, "python3-yaml could not load the manifest: \(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
    }

    func podSpec() throws -> [String: Any] {
        let ds = try #require(try documents().first { $0["kind"] as? String == "DaemonSet" })
        let template = try #require((ds["spec"] as? [String: Any])?["template"] as? [String: Any])
        return try #require(template["spec"] as? [String: Any])
    }

    func agent() throws -> [String: Any] {
        let containers = try #require(try podSpec()["containers"] as? [[String: Any]])
        return try #require(containers.first { $0["name"] as? String == "agent" })
    }

    /// The agent's arguments and its OTLP endpoint.
    /// The agent's arguments as the manifest writes them, except that the
    /// metrics port becomes one of the kernel's choosing: tests running them
    /// side by side must not compete for 9464.
    func agentArguments() throws -> (args: [String], endpoint: String) {
        let a = try agent()
        var args = try #require(a["args"] as? [String])
        if let i = args.firstIndex(of: "--metrics-addr"), i + 1 < args.count {
            #expect(args[i + 1] == "0.0.0.0:9464", "the port the pod annotations name")
            args[i + 1] = "127.0.0.1:0"
        }
        let env = a["env"] as? [[String: Any]] ?? []
        let endpoint = try #require(env.first { $0["name"] as? String == "OTEL_EXPORTER_OTLP_ENDPOINT" }?["value"] as? String)
        return (args, endpoint)
    }

    @Test func daemonSetShape() throws {
        let docs = try documents()
        let kinds = docs.compactMap { $0["kind"] as? String }
        #expect(kinds.contains("DaemonSet") && kinds.contains("Namespace") && kinds.contains("ServiceAccount"), "\(kinds)")
        let ds = try #require(docs.first { $0["kind"] as? String == "DaemonSet" })
        #expect(ds["apiVersion"] as? String == "apps/v1")
        let spec = try #require(ds["spec"] as? [String: Any])
        let selector = (spec["selector"] as? [String: Any])?["matchLabels"] as? [String: String]
        let labels = ((spec["template"] as? [String: Any])?["metadata"] as? [String: Any])?["labels"] as? [String: String]
        #expect(selector != nil && selector == labels)

        let pod = try podSpec()
        #expect(pod["hostPID"] as? Bool == true)
        #expect(pod["automountServiceAccountToken"] as? Bool == false)
        let containers = (pod["initContainers"] as? [[String: Any]] ?? []) + (pod["containers"] as? [[String: Any]] ?? [])
        #expect(containers.count == 2)
        for c in containers {
            let name = c["name"] as? String ?? "?"
            let sc = try #require(c["securityContext"] as? [String: Any], "\(name) has no securityContext")
            #expect(sc["privileged"] as? Bool == false, "\(name)")
            #expect(sc["allowPrivilegeEscalation"] as? Bool == false, "\(name)")
            #expect(sc["readOnlyRootFilesystem"] as? Bool == true, "\(name)")
            let caps = sc["capabilities"] as? [String: Any]
            #expect(caps?["drop"] as? [String] == ["ALL"], "\(name)")
            let add = caps?["add"] as? [String] ?? []
            #expect(add.count == Self.capabilities.count && Set(add) == Self.capabilities, "\(name): \(add)")
            let limits = (c["resources"] as? [String: Any])?["limits"] as? [String: Any]
            #expect(limits?["cpu"] != nil && limits?["memory"] != nil, "\(name) needs cpu and memory limits")
            for m in c["volumeMounts"] as? [[String: Any]] ?? [] {
                #expect(m["readOnly"] as? Bool == true, "\(name): \(m) must be read-only")
            }
        }
        #expect(containers.first?["args"] as? [String] == ["doctor"])
        let (args, endpoint) = try agentArguments()
        #expect(args.contains("--ssl") && args.contains("--quiet"), "\(args)")
        #expect(endpoint.hasPrefix("http://") && endpoint.hasSuffix(":4318"), "\(endpoint)")
    }

    /// The agent's exact arguments through the real binary. The manifest names
    /// the node's libssl through /proc/1/root (hostPID); where this sandbox
    /// refuses /proc/1/root, that must be a runtime error (not a usage error),
    /// and the same arguments with the host path must attach and exit 0 — in a
    /// mount namespace without tracefs and with /sys/kernel/btf hidden, since
    /// the manifest mounts neither.
    @Test func agentArgumentsTraceForReal() throws {
        guard requireRoot() else { return }
        let (args, endpoint) = try agentArguments()
        let ssl = try #require(args.firstIndex(of: "--ssl"))
        let library = args[ssl + 1]
        let env = ["/usr/bin/env", "OTEL_EXPORTER_OTLP_ENDPOINT=\(endpoint)"]

        let asWritten = try run(env[0], Array(env.dropFirst()) + [Repo.tool] + args + ["--duration", "0.2"])
        if FileManager.default.isReadableFile(atPath: library) {
            #expect(asWritten.status == 0, "\(asWritten.stderr)")
            #expect(asWritten.stderr.contains("attached"), "\(asWritten.stderr)")
        } else {
            print("\(library) is not readable here: \(asWritten.stderr)")
            #expect(asWritten.status == 1, "\(asWritten.stderr)")
            #expect(asWritten.stderr.contains(library))
        }

        var hostArgs = args
        if library.hasPrefix("/proc/1/root/") { hostArgs[ssl + 1] = String(library.dropFirst("/proc/1/root".count)) }
        let script = """
        umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug/tracing 2>/dev/null
        mount -t tmpfs none /sys/kernel/btf || exit 90
        exec "$@"
        """
        let r = try run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh"]
                                            + env + [Repo.tool] + hostArgs + ["--duration", "0.2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("attached") && r.stderr.contains(hostArgs[ssl + 1]), "\(r.stderr)")
        #expect(r.stdout.isEmpty, "--quiet prints no spans")
    }

    /// With only the manifest's capabilities (no SYS_ADMIN), the doctor's
    /// verdict must match whether the agent really attaches; bpf() must be
    /// allowed either way. Where uprobe_multi links work (6.6+), the agent
    /// attaches through them even on 6.16+ kernels that refuse perf uprobes to
    /// CAP_PERFMON, and the doctor must say so; with UPROBE_TRACE_NO_UPROBE_MULTI=1
    /// it must predict the perf uprobe path just as well.
    @Test func doctorPredictsTheAgentWithItsCapabilities() throws {
        guard requireRoot() else { return }
        let (args, _) = try agentArguments()
        let ssl = try #require(args.firstIndex(of: "--ssl"))
        var hostArgs = args
        hostArgs[ssl + 1] = String(args[ssl + 1].replacingOccurrences(of: "/proc/1/root", with: ""))
        let bounding = "-all," + Self.capabilities.sorted().map { "+" + $0.lowercased() }.joined(separator: ",")
        let setpriv = ["/usr/bin/setpriv", "--bounding-set", bounding]

        for forcePerf in [false, true] {
            let env = ["/usr/bin/env"] + (forcePerf ? ["UPROBE_TRACE_NO_UPROBE_MULTI=1"] : [])
            let doctor = try run(env[0], Array(env.dropFirst()) + setpriv + [Repo.tool, "doctor", "--json"])
            let doc = try json(doctor.stdout)
            let checks = try #require(doc["checks"] as? [[String: Any]])
            func check(_ name: String) -> [String: Any]? { checks.first { $0["name"] as? String == name } }
            #expect(check("bpf_permission")?["status"] as? String == "ok", "\(doctor.stdout)")
            let canTrace = try #require(doc["can_trace"] as? Bool)
            let multi = check("uprobe_multi")?["status"] as? String == "ok"
            let trace = try run(env[0], Array(env.dropFirst()) + setpriv + [Repo.tool] + hostArgs + ["--duration", "0.2"])
            print("with \(bounding)\(forcePerf ? ", perf forced" : ""): uprobe_multi \(multi ? "ok" : "not used"), uprobe_permission \(check("uprobe_permission")?["status"] as? String ?? "?"), can_trace \(canTrace), trace exit \(trace.status): \(trace.stderr)")
            #expect(canTrace == (trace.status == 0), "doctor: \(doctor.stdout)\ntrace: \(trace.stderr)")
            #expect(trace.status == 0 || trace.status == 77, "\(trace.stderr)")
            #expect(doctor.status == (canTrace ? 0 : 1))
            if forcePerf {
                #expect(!multi)
            } else if multi {
                // The case the manifest is written for: no SYS_ADMIN, uprobe_multi links.
                #expect(trace.status == 0, "\(trace.stderr)")
            }
        }
    }
}
