@testable import Families
import Attach
import Foundation
import Testing
import TraceEvents

/// Loads bpf/go_http.bpf.c into the kernel and attaches it to the testdata Go
/// programs: needs root and a kernel with uprobes, BTF and ring buffers.
@Suite(.serialized) struct GoHTTPBPFTests {
    typealias S = GoHTTPTestSupport

    @Test("BPF root: Go server and nested client spans", arguments: ["go-server", "go-server-pie", "go-server-stripped"])
    func serverSpans(_ name: String) throws {
        guard S.canRunRootBPF() else { return }
        let path = S.fixture(name)
        let server = try S.Server(binary: path)
        let request = try S.goHTTPRequest(path, pid: server.pid, server: true, client: true)

        let stats = try BPFRunStatistics()
        let probes = try TestProbes(request)
        #expect(probes.probeCount == request.sites.count)
        let sink = EventSink()
        let reader = try probes.reader(sink.handler)
        reader.start()

        let base = "http://\(server.address)"
        #expect(S.curl("\(base)/sleep?ms=5") == "200")
        #expect(S.curl("\(base)/status?code=404") == "404")
        _ = S.curl("\(base)/panic") // net/http recovers and closes the connection: no response
        #expect(S.curl("\(base)/sleep?ms=1&x=y") == "200")
        #expect(S.curl("\(base)/status?code=201", ["-d", "abc"]) == "201")
        #expect(S.curl("\(base)/call?url=\(base)/status?code=202") == "200")
        let serverRequests = 7 // the six above and the one /call makes

        var events = sink.wait(for: serverRequests + 1)
        usleep(200_000) // anything extra would show up now
        events = sink.all
        let programs = try probes.object.programs()
        let lost = try probes.lostEvents()
        reader.stop()
        _ = stats

        #expect(sink.malformedCount == 0)
        #expect(lost == 0)
        #expect(events.count == serverRequests + 1, "events: \(events.map(describe))")
        for e in events {
            #expect(e.h.tgid == UInt32(server.pid))
            #expect(e.h.start_ns > 0 && e.h.start_ns < e.h.end_ns, "\(describe(e))")
            #expect(!e.has(UT_FLAG_READ_FAILED), "\(describe(e))")
            #expect(e.hostText == server.address, "\(describe(e))")
            #expect(e.h.goid != 0)
        }
        let servers = events.filter(\.isServer)
        // One head record per server request, sent at its entry: same goroutine and
        // start, and its bytes end with that request's head (request line first).
        let heads = sink.allHeads
        #expect(heads.count == servers.count, "\(heads.count) head records for \(servers.count) server requests")
        for s in servers {
            let head = heads.first { $0.event.h.goid == s.h.goid && $0.event.h.start_ns == s.h.start_ns }
            let text = String(decoding: head?.bytes ?? [], as: UTF8.self)
            let target = s.pathText + (s.queryText.isEmpty ? "" : "?" + s.queryText)
            #expect(text.contains("\(s.methodText) \(target) HTTP/1.1\r\n") && text.hasSuffix("\r\n\r\n"), "\(describe(s)): head \(text.debugDescription)")
        }
        func one(_ path: String, _ query: String) -> ut_go_http_event? {
            let found = servers.filter { $0.pathText == path && $0.queryText == query }
            #expect(found.count == 1, "server events for \(path)?\(query): \(found.map(describe))")
            return found.first
        }
        if let e = one("/sleep", "ms=5") {
            #expect(e.methodText == "GET" && e.status == 200 && e.content_length == 0)
            #expect(e.h.end_ns - e.h.start_ns >= 5_000_000)
        }
        if let e = one("/status", "code=404") { #expect(e.status == 404 && e.h.flags == 0) }
        if let e = one("/panic", "") {
            #expect(e.has(UT_FLAG_PANIC) && e.status == 500)
        }
        if let e = one("/sleep", "ms=1&x=y") { #expect(e.status == 200 && e.methodText == "GET") }
        if let e = one("/status", "code=201") {
            #expect(e.methodText == "POST" && e.content_length == 3 && e.status == 201)
        }
        let inner = one("/status", "code=202")
        let outer = one("/call", "url=\(base)/status?code=202")
        let clients = events.filter(\.isClient)
        #expect(clients.count == 1)
        if let c = clients.first, let outer, let inner {
            #expect(c.methodText == "GET" && c.pathText == "/status" && c.queryText == "code=202")
            #expect(c.status == 202 && !c.has(UT_FLAG_ERROR))
            // Same goroutine as the handler that made the call, and inside its span.
            #expect(c.h.goid == outer.h.goid)
            #expect(outer.h.start_ns < c.h.start_ns && c.h.end_ns < outer.h.end_ns)
            #expect(inner.h.goid != outer.h.goid)
            #expect(outer.status == 200)
        }

        // Hits per request: uprobe hits that ran our programs (bpf_enable_stats).
        let runs = Dictionary(uniqueKeysWithValues: programs.map { ($0.name, $0) })
        let entry = runs["go_server_entry"]?.runCount ?? 0
        let ret = runs["go_server_finish"]?.runCount ?? 0
        let conn = runs["go_conn_serve_return"]?.runCount ?? 0
        // Both sit on Go 1.19's stack-check `jbe`, which runs once more when the
        // goroutine's stack grows there (the BPF side ignores that hit).
        let n = UInt64(serverRequests)
        #expect((n...2 * n).contains(entry), "ServeHTTP entry \(entry) for \(n) requests")
        #expect((n - 1...2 * (n - 1)).contains(ret), "finishRequest \(ret)") // the panicking handler never gets there
        // 2 when roundTrip's prologue grows the goroutine stack (runtime.morestack
        // restarts the function): the BPF side keeps the first entry's time.
        #expect((1...2).contains(runs["go_client_entry"]?.runCount ?? 0), "\(programs)")
        #expect(runs["go_client_return"]?.runCount == 1, "\(programs)")
        let bpfNs = programs.reduce(0) { $0 + $1.runTimeNs }
        let hits = programs.reduce(0) { $0 + $1.runCount }
        print("""
            hits [\(name)]: \(serverRequests) server requests: ServeHTTP entry \(entry), finishRequest \(ret), \
            (*conn).serve RET \(conn) (once per closed connection); client roundTrip entry+RET \
            \((runs["go_client_entry"]?.runCount ?? 0) + (runs["go_client_return"]?.runCount ?? 0)); \
            \(String(format: "%.2f", Double(entry + ret) / Double(serverRequests))) server hits/request; \
            BPF time \(hits > 0 ? bpfNs / hits : 0) ns/hit
            """)

        // Detach: no program of ours stays loaded, no uprobe link/perf event stays.
        let ids = Set(programs.map(\.id))
        probes.detach()
        #expect(probes.probeCount == 0)
        // A uprobe_multi link's sites are gone when its fd is closed, but the
        // kernel drops its program reference after an RCU tasks-trace grace
        // period (deferred dealloc): allow that, and say how long it took.
        let clock = ContinuousClock()
        let start = clock.now
        var left = try bpftoolProgramIDs()
        while !left.isDisjoint(with: ids), clock.now - start < .seconds(10) {
            Thread.sleep(forTimeInterval: 0.01)
            left = try bpftoolProgramIDs()
        }
        print("programs unloaded \(clock.now - start) after detach (\(probes.object.attachMode) mode)")
        #expect(left.isDisjoint(with: ids), "programs still loaded 10 s after detach: \(left.intersection(ids))")
    }

    @Test("BPF root: Go client spans, attached to the file for every process")
    func clientSpans() throws {
        guard S.canRunRootBPF() else { return }
        let server = try S.Server(binary: S.fixture("go-server"))
        let path = S.fixture("go-client")
        let request = try S.goHTTPRequest(path, pid: nil, server: false, client: true)
        let stats = try BPFRunStatistics()
        defer { _ = stats }
        let probes = try TestProbes(request)
        defer { probes.detach() }
        let sink = EventSink()
        let reader = try probes.reader(sink.handler)
        reader.start()
        defer { reader.stop() }

        let client = Process()
        client.executableURL = URL(fileURLWithPath: path)
        client.arguments = ["-n", "2", "http://\(server.address)/status?code=203", "http://127.0.0.1:1/refused"] // -n: per URL
        client.standardOutput = FileHandle.nullDevice
        try client.run()
        client.waitUntilExit()
        #expect(client.terminationStatus == 1) // the refused connection

        let events = sink.wait(for: 4)
        let programs = try probes.object.programs().filter { $0.runCount > 0 }
        print("hits [go-client]: 4 requests: \(programs.map { "\($0.name) \($0.runCount)" })")
        #expect(events.count == 4, "events: \(events.map(describe))")
        let ok = events.filter { $0.status == 203 }
        #expect(ok.count == 2)
        for e in ok {
            #expect(e.isClient && e.methodText == "GET" && e.pathText == "/status" && e.queryText == "code=203")
            #expect(e.hostText == server.address && e.h.flags == 0)
            #expect(e.h.tgid == UInt32(client.processIdentifier))
            #expect(e.h.start_ns < e.h.end_ns)
        }
        let failed = events.filter { $0.has(UT_FLAG_ERROR) }
        #expect(failed.count == 2)
        for f in failed {
            #expect(f.isClient && f.pathText == "/refused" && f.hostText == "127.0.0.1:1")
        }
    }

    @Test("BPF root: errors name the problem")
    func attachErrors() throws {
        guard S.canRunRootBPF() else { return }
        let object = try BPFObject(embedded: go_http_bpf.object)
        defer { object.detach() }
        let entry = go_http_bpf.progs.go_server_entry
        #expect(throws: AttachError.self) { try object.setReadOnlyGlobal(BPFGlobalName("no_such_global"), to: UInt64(0)) }
        #expect(throws: AttachError.self) { try object.setReadOnlyGlobal(CommonBPF.config, to: UInt64(0)) } // wrong size
        #expect(throws: AttachError.self) {
            try object.attachUprobe(program: entry, path: "/bin/true", offset: 0)
        } // before load
        try object.setReadOnlyGlobal(CommonBPF.config, to: ut_config())
        try object.load()
        do {
            try object.attachUprobe(program: entry, path: "/nonexistent/binary", offset: 0x1000)
            Issue.record("attach to a missing file succeeded")
        } catch {
            #expect("\(error)".contains("hint:"))
            switch error {
            case .uprobe(_, _, _, _, let e), .uprobeMulti(_, _, _, _, let e): #expect(e == ENOENT)
            default: Issue.record("\(error)")
            }
        }
        #expect(throws: AttachError.self) {
            try object.attachUprobe(program: BPFProgramName("no_such_program"), path: "/bin/true", offset: 0)
        }
        #expect(object.attachedCount == 0)
        #expect(go_http_bpf.globals.ut_cfg == CommonBPF.config && go_http_bpf.maps.ut_events == CommonBPF.events)
    }
}

private func describe(_ e: ut_go_http_event) -> String {
    "\(e.isServer ? "SERVER" : "CLIENT") \(e.methodText) \(e.pathText)?\(e.queryText) host=\(e.hostText) status=\(e.status) flags=\(e.h.flags) goid=\(e.h.goid)"
}

/// Ids of every BPF program loaded in the kernel (`bpftool -j prog show`), and
/// of every program a link or perf event (uprobe) still references.
private func bpftoolProgramIDs() throws -> Set<UInt32> {
    var ids = Set<UInt32>()
    for what in [["prog", "show"], ["link", "show"], ["perf", "show"]] {
        let (status, out) = GoHTTPTestSupport.run("/usr/sbin/bpftool", ["-j"] + what)
        try #require(status == 0, "bpftool \(what): \(out)")
        let json = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]] ?? []
        for entry in json {
            if what[0] == "prog", let id = entry["id"] as? Int { ids.insert(UInt32(id)) }
            if let id = entry["prog_id"] as? Int { ids.insert(UInt32(id)) }
        }
    }
    return ids
}
