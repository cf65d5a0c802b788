import Foundation
import Testing

/// `--syscalls` and `--tcp` against testdata/c/system_fixture.c, whose syscalls
/// and TCP traffic are known exactly, as root. Everything is filtered by the
/// fixture's pids: other suites run beside this one.
@Suite struct SystemTraceTests {
    static let ok = 5, refused = 3, sendBytes = 3000, replyBytes = 7000, getppids = 1234

    /// The fixture, stopped at its `ready` line until `go()`.
    final class Fixture {
        let process = Process()
        let input = Pipe()
        let output: LineReader
        let pid: Int32, child: Int32, listenPort: Int, refusedPort: Int

        init() throws {
            process.executableURL = URL(fileURLWithPath: Repo.fixture("system-fixture"))
            process.arguments = [SystemTraceTests.ok, SystemTraceTests.refused, SystemTraceTests.sendBytes,
                                 SystemTraceTests.replyBytes, SystemTraceTests.getppids].map(String.init)
            let out = Pipe()
            process.standardOutput = out
            process.standardInput = input
            try process.run()
            output = LineReader(out.fileHandleForReading)
            let words = (output.next() ?? "").split(separator: " ")
            guard words.count == 5, words[0] == "ready", let p = Int32(words[1]), let c = Int32(words[2]),
                  let l = Int(words[3]), let r = Int(words[4]) else { throw CocoaError(.fileReadCorruptFile) }
            (pid, child, listenPort, refusedPort) = (p, c, l, r)
        }

        /// Lets it run; true once it said `done`.
        func go() -> Bool {
            input.fileHandleForWriting.write(Data("go\n".utf8))
            return output.next() == "done"
        }

        /// Ends its stdin: it reaps its child and exits.
        func finish() -> Int32 {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
            return process.terminationStatus
        }

        deinit { if process.isRunning { process.terminate() } }
    }

    /// `strace -c -f` of an untraced run: calls per syscall (parent and child together).
    static func straceCounts() throws -> [String: Int] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("system-strace-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = dir.appendingPathComponent("strace.txt").path
        let r = try run("/usr/bin/strace", ["-c", "-f", "-o", report, Repo.fixture("system-fixture")] +
                        [ok, refused, sendBytes, replyBytes, getppids].map(String.init), stdin: "go\n")
        #expect(r.status == 0, "\(r.stderr)")
        var calls: [String: Int] = [:]
        // % time  seconds  usecs/call  calls  [errors]  syscall
        for line in try String(contentsOfFile: report, encoding: .utf8).split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 5, Double(f[0]) != nil, let n = Int(f[3]) else { continue }
            calls[String(f.last!)] = n
        }
        return calls
    }

    /// (link type, program id) of every BPF link `pid` holds, from /proc/PID/fdinfo.
    static func links(of pid: Int32) -> [(type: String, prog: Int)] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return fds.compactMap { fd in
            guard (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) == "anon_inode:bpf_link",
                  let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8) else { return nil }
            var fields: [String: String] = [:]
            for line in info.split(separator: "\n") {
                let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if kv.count == 2 { fields[kv[0]] = kv[1] }
            }
            guard let type = fields["link_type"], let prog = fields["prog_id"].flatMap({ Int($0) }) else { return nil }
            return (type, prog)
        }
    }

    /// Ids of the BPF programs loaded now (`bpftool prog show`).
    static func loadedPrograms() throws -> Set<Int> {
        let r = try run("/usr/sbin/bpftool", ["-j", "prog", "show"])
        let list = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        return Set(list.compactMap { $0["id"] as? Int })
    }

    @Test func syscallsAndTCPNeedAProcess() throws {
        let r = try tool("--syscalls")
        #expect(r.status == 64 || r.status == 2, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("--syscalls and --tcp need --pid"), "\(r.stderr)")
    }

    @Test func syscallsAndTCPCountedExactlyForTheTracedPids() throws {
        guard requireRoot(), requireFixtures(),
              require(FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "strace missing (scripts/setup.sh)") else { return }
        let strace = try Self.straceCounts()
        // The fixture is what it says it is: strace sees the same calls.
        #expect(strace["getppid"] == Self.getppids, "\(strace)")
        #expect(strace["connect"] == Self.ok + Self.refused, "\(strace)")
        #expect(strace["sendto"] == Self.ok, "\(strace)")

        let fx = try Fixture()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("system-trace-\(getpid())-\(fx.pid)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let spansPath = dir.appendingPathComponent("spans.jsonl").path
        // The same statistics as OTLP metrics, at the final export when the fixture exits.
        let received = dir.appendingPathComponent("otlp")
        try FileManager.default.createDirectory(at: received, withIntermediateDirectories: true)
        let (receiver, otlpPort) = try otlpReceiver(received)
        defer { receiver.process.terminate() }
        let tracer = try Background(Repo.tool, ["--pid", "\(fx.pid),\(fx.child)", "--syscalls", "--tcp", "--metrics-addr", "127.0.0.1:0",
                                                "--otlp-json", spansPath, "--quiet", "--otlp-endpoint", "http://127.0.0.1:\(otlpPort)"])
        tracer.watchdog(seconds: 120)
        let head = tracer.waitForStderr("metrics on")
        let address = try #require(metricsAddress(in: head), "\(head)")
        #expect(head.components(separatedBy: "attached ").count - 1 == 2, "one system object per pid: \(head)")
        #expect(fx.go(), "the fixture did not finish")

        let (status, body) = try scrape(address)
        #expect(status == 200)
        let m = Scrape(body)
        let parent = String(fx.pid), child = String(fx.child)
        // Syscalls: exact counts, and the histogram holds every call once.
        #expect(m.value("uprobe_trace_syscalls_total", ["pid": parent, "syscall": "getppid"]) == Double(Self.getppids))
        #expect(m.value("uprobe_trace_syscalls_total", ["pid": parent, "syscall": "connect"]) == Double(Self.ok + Self.refused))
        #expect(m.value("uprobe_trace_syscalls_total", ["pid": parent, "syscall": "sendto"]) == Double(Self.ok))
        #expect(m.value("uprobe_trace_syscalls_total", ["pid": parent, "syscall": "socket"]) == Double(Self.ok + Self.refused))
        for name in ["getppid", "connect", "sendto"] {
            #expect(m.value("uprobe_trace_syscalls_total", ["pid": parent, "syscall": name]).map(Int.init) == strace[name], "\(name): ours vs strace -c -f")
        }
        let labels = ["pid": parent, "syscall": "getppid"]
        #expect(m.value("uprobe_trace_syscall_duration_seconds_count", labels) == Double(Self.getppids))
        #expect(m.value("uprobe_trace_syscall_duration_seconds_bucket", labels.merging(["le": "+Inf"]) { $1 }) == Double(Self.getppids))
        let buckets = m.samples.filter { $0.name == "uprobe_trace_syscall_duration_seconds_bucket" && $0.labels["pid"] == parent && $0.labels["syscall"] == "getppid" }
        #expect(buckets.count == 36, "35 power-of-two bounds and +Inf")
        #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.value <= $1.value }, "cumulative buckets")
        let sum = try #require(m.value("uprobe_trace_syscall_duration_seconds_sum", labels))
        #expect(sum > 0 && sum < 10, "getppid total time \(sum) s")
        // The child's syscalls are its own: it never called getppid or connect.
        #expect(m.value("uprobe_trace_syscalls_total", ["pid": child, "syscall": "getppid"]) == nil)
        #expect(m.value("uprobe_trace_syscalls_total", ["pid": child, "syscall": "connect"]) == nil)

        // TCP: the parent connects and sends, the child accepts and replies.
        #expect(m.value("uprobe_trace_tcp_connections_total", ["pid": parent, "direction": "outbound"]) == Double(Self.ok))
        #expect(m.value("uprobe_trace_tcp_connections_total", ["pid": parent, "direction": "inbound"]) == 0)
        #expect(m.value("uprobe_trace_tcp_connections_total", ["pid": child, "direction": "inbound"]) == Double(Self.ok))
        #expect(m.value("uprobe_trace_tcp_connections_total", ["pid": child, "direction": "outbound"]) == 0)
        #expect(m.value("uprobe_trace_tcp_bytes_total", ["pid": parent, "direction": "sent"]) == Double(Self.ok * Self.sendBytes))
        #expect(m.value("uprobe_trace_tcp_bytes_total", ["pid": parent, "direction": "received"]) == Double(Self.ok * Self.replyBytes))
        #expect(m.value("uprobe_trace_tcp_bytes_total", ["pid": child, "direction": "sent"]) == Double(Self.ok * Self.replyBytes))
        #expect(m.value("uprobe_trace_tcp_bytes_total", ["pid": child, "direction": "received"]) == Double(Self.ok * Self.sendBytes))
        #expect(m.value("uprobe_trace_tcp_connect_errors_total", ["pid": parent, "error": "ECONNREFUSED"]) == Double(Self.refused))
        #expect(m.samples.filter { $0.name == "uprobe_trace_tcp_connect_errors_total" && $0.labels["pid"] == parent }.count == 1, "only refused connects failed")

        // What the tool holds in the kernel: 7 links per pid (2 raw tracepoints, 5 tracepoints).
        let held = Self.links(of: tracer.process.processIdentifier)
        #expect(held.count == 14, "\(held)")
        #expect(held.filter { $0.type == "raw_tracepoint" }.count == 4, "\(held)")

        #expect(fx.finish() == 0)
        let (code, stderr) = tracer.waitForExit()
        #expect(code == 0, "\(stderr)")
        // Nothing stays behind (a released link drops its program after a grace period).
        let programs = Set(held.map(\.prog))
        var left = programs
        let deadline = Date().addingTimeInterval(10)
        while !left.isEmpty && Date() < deadline {
            left = programs.intersection(try Self.loadedPrograms())
            if !left.isEmpty { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(left.isEmpty, "programs left loaded: \(left)")
        // The strace -c style table at exit.
        let row = stderr.split(separator: "\n").first { $0.hasSuffix(" getppid") && $0.contains(" \(Self.getppids) ") }
        #expect(row != nil, "\(stderr)")
        #expect(stderr.contains("syscalls of pid \(fx.pid)"))

        // OTLP: the last metrics export has the parent's getppid histogram and TCP sums.
        let lines = try String(contentsOf: received.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let last = try #require(lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }, "\(lines.count) exports")
        var getppid: Int?, outbound: Int?, refusedCount: Int?
        for rm in last["resourceMetrics"] as? [[String: Any]] ?? [] {
            let resource = (rm["resource"] as? [String: Any])?["attributes"] as? [[String: Any]] ?? []
            let pid = resource.first { $0["key"] as? String == "process.pid" }.flatMap { ($0["value"] as? [String: Any])?["intValue"] as? String }
            guard pid == parent else { continue }
            for m in (rm["scopeMetrics"] as? [[String: Any]])?.first?["metrics"] as? [[String: Any]] ?? [] {
                let points = ((m["histogram"] ?? m["sum"]) as? [String: Any])?["dataPoints"] as? [[String: Any]] ?? []
                func value(_ key: String, _ v: String) -> [String: Any]? {
                    points.first { p in (p["attributes"] as? [[String: Any]] ?? []).contains { $0["key"] as? String == key && ($0["value"] as? [String: Any])?["stringValue"] as? String == v } }
                }
                switch m["name"] as? String {
                case "uprobe_trace.syscall.duration": getppid = (value("syscall", "getppid")?["count"] as? String).flatMap { Int($0) }
                case "uprobe_trace.tcp.connections": outbound = (value("direction", "outbound")?["asInt"] as? String).flatMap { Int($0) }
                case "uprobe_trace.tcp.connect_errors": refusedCount = (value("error.type", "ECONNREFUSED")?["asInt"] as? String).flatMap { Int($0) }
                default: break
                }
            }
        }
        #expect(getppid == Self.getppids && outbound == Self.ok && refusedCount == Self.refused,
                "OTLP: getppid \(String(describing: getppid)), outbound \(String(describing: outbound)), refused \(String(describing: refusedCount))")

        // One `tcp connect` span per connect, with its peer and outcome.
        let connects = try spans(inJSONLines: spansPath).filter {
            $0["name"] as? String == "tcp connect" && attributes($0["_resource"] as? [String: Any] ?? [:])["process.pid"] == parent
        }
        #expect(connects.count == Self.ok + Self.refused)
        var established = 0, refusedSpans = 0
        for s in connects {
            let a = attributes(s)
            #expect(s["kind"] as? Int == 3, "CLIENT")
            #expect(a["network.transport"] == "tcp" && a["network.peer.address"] == "127.0.0.1", "\(a)")
            let start = UInt64(s["startTimeUnixNano"] as? String ?? "") ?? 0, end = UInt64(s["endTimeUnixNano"] as? String ?? "") ?? 0
            #expect(start > 0 && end >= start && end - start < 5_000_000_000, "connect latency \(end &- start) ns")
            let code = (s["status"] as? [String: Any])?["code"] as? Int
            if a["network.peer.port"] == String(fx.listenPort) {
                established += 1
                #expect(code == nil || code == 0, "\(s)")
                #expect(a["error.type"] == nil)
            } else if a["network.peer.port"] == String(fx.refusedPort) {
                refusedSpans += 1
                #expect(code == 2, "\(s)")
                #expect(a["error.type"] == "ECONNREFUSED")
            } else {
                Issue.record("tcp connect to an unexpected port: \(a)")
            }
        }
        #expect(established == Self.ok && refusedSpans == Self.refused)
    }
}
