import Foundation
import GoRuntime
import Testing

/// `uprobe-trace --pid PID --go-http` on the testdata server built by the newest
/// Go toolchain of the fixture matrix (testdata/bin/go<NEWEST>/normal/go-server): spans as on Go 1.19, and every breakpoint the tool puts on
/// the server's per-request path is on an instruction the kernel emulates.
@Suite(.serialized) struct NewestGoTraceTests {
    /// File offsets where the text of `pid`'s executable differs from the file:
    /// the uprobe breakpoints (INT3), seen from outside the tool.
    static func breakpoints(_ pid: Int32) throws -> [UInt64] {
        var st = stat()
        guard stat("/proc/\(pid)/exe", &st) == 0 else { return [] }
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/exe"))
        defer { try? file.close() }
        let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/mem"))
        defer { try? mem.close() }
        var found: [UInt64] = []
        for line in try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8).split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, f[1].contains("x"), UInt64(f[4]) == UInt64(st.st_ino) else { continue }
            let range = f[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
            guard range.count == 2, let offset = UInt64(f[2], radix: 16) else { continue }
            let length = Int(min(range[1] - range[0], UInt64(st.st_size) - min(offset, UInt64(st.st_size))))
            try file.seek(toOffset: offset)
            let disk = [UInt8](try file.read(upToCount: length) ?? Data())
            try mem.seek(toOffset: range[0])
            let live = [UInt8](try mem.read(upToCount: length) ?? Data())
            for i in 0..<min(disk.count, live.count) where disk[i] != live[i] { found.append(offset + UInt64(i)) }
        }
        return found
    }

    @Test func newestGoServerSpansOnEmulatedSites() throws {
        guard requireRoot(), let newest = GoMatrixFixtures.toolchains.last,
              let path = GoMatrixFixtures.require(newest.minor, "normal") else { return }
        let dump = try json(try tool("symbols", "dump", path, "--json").stdout)
        let go = try #require(dump["go"] as? [String: Any])
        let version = String(try #require(go["version"] as? String).dropFirst(2))
        #expect(version.hasPrefix(newest.minor + "."), "\(version)")
        // Function ranges as file offsets, to name the function of each breakpoint.
        var ranges: [(name: String, from: UInt64, to: UInt64)] = []
        for f in go["functions"] as? [[String: Any]] ?? [] {
            guard let name = f["name"] as? String, let off = f["file_offset"] as? Int, let entry = f["entry"] as? Int,
                  let end = f["end"] as? Int else { continue }
            ranges.append((name, UInt64(off), UInt64(off + end - entry)))
        }
        let elf = try Data(contentsOf: URL(fileURLWithPath: path))

        let server = try Background(path, [])
        let address = String(try #require(server.stdout.next()).dropFirst("listening ".count))
        let pid = server.process.processIdentifier
        let jsonPath = FileManager.default.temporaryDirectory.appendingPathComponent("newest-go-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: jsonPath) }
        let tracer = try Background(Repo.tool, ["--pid", String(pid), "--go-http", "--otlp-json", jsonPath])
        tracer.watchdog(seconds: 120)
        let attached = tracer.waitForStderr("attached")
        let count = try #require(attached.firstMatch(of: /attached (\d+) probes/).flatMap { Int($0.output.1) }, "\(attached)")

        // Every breakpoint: which function, which instruction, what a hit costs.
        let sites = try Self.breakpoints(pid)
        #expect(sites.count == count, "the stderr line counts the sites in the text: \(sites.count) vs \(count)")
        var byFunction: [String: [ProbeInstruction]] = [:]
        for offset in sites {
            let function = ranges.first { $0.from <= offset && offset < $0.to }?.name ?? "?"
            let insn = try elf.withUnsafeBytes { raw in
                try #require(ProbeInstruction(code: UnsafeRawBufferPointer(rebasing: raw[Int(offset)...]), at: 0, fileOffset: offset))
            }
            byFunction[function, default: []].append(insn)
        }
        print("go\(version) sites: " + byFunction.map { "\($0.key): \($0.value.map(\.description).joined(separator: ", "))" }.sorted().joined(separator: "; "))
        // Per request: ServeHTTP's and finishRequest's entries, once each, emulated `push %rbp`.
        for function in ["net/http.serverHandler.ServeHTTP", "net/http.(*response).finishRequest"] {
            let insns = byFunction[function] ?? []
            #expect(insns.count == 1, "\(function): \(insns)")
            #expect(insns.allSatisfy { $0.cost.isCheap && $0.text == "push %rbp" }, "\(function): \(insns)")
        }
        // Go >= 1.21: parentage from g.parentGoid, no runtime.newproc1 probe.
        #expect(byFunction["runtime.newproc1"] == nil)
        #expect(byFunction["?"] == nil, "every breakpoint is in a probed function: \(byFunction.keys)")
        // Single-stepped sites only where no emulated one exists, none on the server's per-request path.
        let slow = Set(byFunction.filter { $0.value.contains { !$0.cost.isCheap } }.keys)
        #expect(slow.isSubset(of: ["net/http.(*conn).serve", "net/http.(*Transport).roundTrip"]), "\(slow)")

        var targets = (0..<5).map { "/sleep?ms=0&i=\($0)" } + (0..<3).map { "/status?code=404&i=\($0)" }
        targets += (0..<2).map { "/status?code=503&i=\($0)" } + ["/panic?i=0", "/call?go=1&url=http://\(address)/status?code=202"]
        for t in targets {
            _ = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "http://\(address)\(t)"])
        }
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(server.process.isRunning)

        let all = try spans(inJSONLines: jsonPath)
        let servers = all.filter { $0["kind"] as? Int == 2 }, clients = all.filter { $0["kind"] as? Int == 3 }
        #expect(servers.count == targets.count + 1, "one SERVER span per request (the /call's inner one too): \(servers.count)")
        func serverSpan(_ path: String, _ query: String) -> [String: Any]? {
            servers.first { attributes($0)["url.path"] == path && attributes($0)["url.query"] == query }
        }
        for t in targets where !t.hasPrefix("/call") {
            let parts = t.split(separator: "?", maxSplits: 1).map(String.init)
            let span = try #require(serverSpan(parts[0], parts[1]), "\(t)")
            let a = attributes(span)
            #expect(a["http.request.method"] == "GET", "\(t): \(a)")
            let want = t.hasPrefix("/panic") ? "500" : t.hasPrefix("/status?code=") ? String(parts[1].dropFirst(5).prefix(3)) : "200"
            #expect(a["http.response.status_code"] == want, "\(t): \(a)")
            if t.hasPrefix("/panic") { #expect(a["error.type"] == "panic", "\(a)") }
            if want.hasPrefix("5") { #expect((span["status"] as? [String: Any])?["code"] as? Int == 2, "\(t) is an error") }
        }
        // The client call made from a goroutine the handler started is the handler's child.
        let call = try #require(servers.first { attributes($0)["url.path"] == "/call" })
        #expect(attributes(call)["http.response.status_code"] == "200")
        #expect(clients.count == 1)
        if let c = clients.first {
            #expect(attributes(c)["http.response.status_code"] == "202")
            #expect(c["parentSpanId"] as? String == call["spanId"] as? String, "client span is the /call span's child")
            #expect(c["traceId"] as? String == call["traceId"] as? String)
        }
    }
}
