import Foundation
import Testing

/// `symbols dump` on Go binaries: the Go section is there, consistent across
/// the normal, stripped and PIE builds, and its RET offsets are attachable.
@Suite struct GoDumpTests {
    func goSection(_ name: String) throws -> [String: Any] {
        let r = try tool("symbols", "dump", Repo.fixture(name), "--json")
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try json(r.stdout)["go"] as? [String: Any])
    }

    func sites(_ go: [String: Any]) -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for f in go["functions"] as? [[String: Any]] ?? [] {
            out[f["name"] as! String] = f["ret_offsets"] as? [Int]
        }
        return out
    }

    @Test func variantsAgree() throws {
        guard requireFixtures() else { return }
        let normal = try goSection("go-server"), stripped = try goSection("go-server-stripped"), pie = try goSection("go-server-pie")
        let version = try run("/usr/bin/env", ["go", "version", Repo.fixture("go-server")]).stdout
        #expect(version.contains(": \(normal["version"] as? String ?? "?")"), "\(version)")
        #expect(normal["version"] as? String == stripped["version"] as? String)
        #expect((normal["modules"] as? [Any])?.count == 2)

        let ns = sites(normal), ss = sites(stripped), ps = sites(pie)
        #expect(Set(ns.keys) == ["net/http.serverHandler.ServeHTTP", "net/http.(*response).finishRequest",
                                 "net/http.(*conn).serve", "net/http.(*Transport).roundTrip",
                                 "net/http.(*persistConn).roundTrip", "runtime.newproc1", "runtime.newproc.func1",
                                 "net/http.(*http2serverConn).processHeaders", "net/http.(*http2serverConn).runHandler.func1",
                                 "net/http.(*http2ClientConn).writeHeaders"])
        #expect(Set(ss.keys) == Set(ns.keys) && Set(ps.keys) == Set(ns.keys))
        for (name, rets) in ns {
            #expect(!rets.isEmpty, "\(name) has RETs (\(ns))")
            #expect(ss[name]?.count == rets.count, "\(name): stripped build has the same code, so the same RET count")
        }

        let offsets = try #require(normal["offsets"] as? [String: [String: Any]])
        let tableOffsets = try #require(stripped["offsets"] as? [String: [String: Any]])
        // Every GoField but runtime.g.parentGoid (Go >= 1.21).
        #expect(offsets.count == 24)
        for (field, o) in offsets {
            #expect(o["source"] as? String == "dwarf", "\(field) from DWARF in the normal build")
            #expect(tableOffsets[field]?["source"] as? String == "table", "\(field) from the table in the stripped build")
            #expect(tableOffsets[field]?["offset"] as? Int == o["offset"] as? Int, "\(field): table agrees with DWARF")
        }
        #expect(offsets["runtime.g.goid"]?["offset"] as? Int == 152)
    }

    /// Every listed probe site carries its instruction and uprobe cost class; on
    /// Go 1.19 the cheap entry is the emulated stack-check `jbe`, every RET is a
    /// single-stepped `ret`, and the dump says that no emulated RET site exists.
    @Test func probeSitesShowInstructionAndCost() throws {
        guard requireFixtures() else { return }
        let go = try goSection("go-server")
        #expect((go["uprobe_cost_rules"] as? String)?.hasPrefix("Linux ") == true)
        let functions = try #require(go["functions"] as? [[String: Any]])
        for f in functions {
            let name = f["name"] as? String ?? "?"
            let entry = try #require(f["entry_instruction"] as? [String: Any], "\(name)")
            #expect(entry["cost"] as? String == "single-stepped", "\(name): Go 1.19 entries are cmp or lea")
            let cheap = try #require(f["cheap_entry"] as? [String: Any], "\(name)")
            #expect(cheap["cost"] as? String == "emulated")
            #expect((cheap["instruction"] as? String)?.hasPrefix("jbe ") == true, "\(name): \(cheap)")
            #expect(cheap["kind"] as? String == "stack-check-branch")
            #expect(cheap["may_repeat"] as? Bool == true)
            #expect((cheap["file_offset"] as? Int ?? 0) > (f["file_offset"] as? Int ?? .max))
            let rets = try #require(f["ret_sites"] as? [[String: Any]])
            #expect(rets.compactMap { $0["file_offset"] as? Int } == f["ret_offsets"] as? [Int])
            #expect(rets.allSatisfy { $0["instruction"] as? String == "ret" && $0["cost"] as? String == "single-stepped" })
            #expect((f["ret_note"] as? String)?.contains("no emulated RET site") == true)
        }
        let text = try tool("symbols", "dump", Repo.fixture("go-server"), "--grep", "nothing-matches")
        #expect(text.stdout.contains("cheap entry: file offset 0x"))
        #expect(text.stdout.contains("[single-stepped]"))
        #expect(text.stdout.contains("note: no emulated RET site"))
    }

    /// The sites `--go-http` attaches, as the dump lists them: on Go 1.19 the
    /// server's per-request probes (ServeHTTP and finishRequest entries) sit on the
    /// emulated stack-check `jbe`; only once-per-connection (conn.serve RETs) and
    /// client/goroutine RETs are single-stepped; no ServeHTTP RET is probed.
    @Test(arguments: ["go-server", "go-server-stripped", "go-server-pie"])
    func dumpListsTheAttachedSites(_ name: String) throws {
        guard requireFixtures() else { return }
        let go = try goSection(name)
        let probes = try #require(go["go_http_probes"] as? [[String: Any]], "\(go.keys)")
        func of(_ program: String) -> [[String: Any]] { probes.filter { $0["program"] as? String == program } }
        for program in ["go_server_entry", "go_server_finish", "go_client_entry", "go_client_conn_entry"] {
            let p = of(program)
            #expect(p.count == 1, "\(program): \(p)")
            #expect(p.first?["cost"] as? String == "emulated", "\(program): \(p)")
            #expect((p.first?["instruction"] as? String)?.hasPrefix("jbe ") == true, "\(program): \(p)")
            #expect(p.first?["site"] as? String == "stack-check-branch")
        }
        #expect(of("go_server_finish").first?["function"] as? String == "net/http.(*response).finishRequest")
        #expect(of("go_server_return").isEmpty, "no RET of ServeHTTP is probed")
        let rets = sites(go)
        #expect(of("go_conn_serve_return").count == rets["net/http.(*conn).serve"]?.count)
        #expect(of("go_client_return").count == rets["net/http.(*Transport).roundTrip"]?.count)
        // Go 1.19 has no g.parentGoid: goroutine creation at newproc.func1's call of runqput (emulated).
        #expect(of("go_newproc_return").isEmpty)
        #expect(of("go_newproc_runqput").count == 1 && of("go_newproc_runqput").first?["cost"] as? String == "emulated", "\(of("go_newproc_runqput"))")
        #expect((of("go_newproc_runqput").first?["instruction"] as? String)?.hasPrefix("call ") == true)
        let text = try tool("symbols", "dump", Repo.fixture(name), "--grep", "nothing-matches").stdout
        #expect(text.contains("go-http probes (\(probes.count), "), "\(text)")
    }

    /// An independent uprobe on the cheap entry of ServeHTTP (the stack-check
    /// `jbe` on Go 1.19) fires once per request, plus once per stack growth.
    @Test func cheapEntryFiresOncePerRequest() throws {
        guard requireFixtures(), requireRoot() else { return }
        let path = Repo.fixture("go-server")
        let functions = try #require(try goSection("go-server")["functions"] as? [[String: Any]])
        let serve = try #require(functions.first { $0["name"] as? String == "net/http.serverHandler.ServeHTTP" })
        let offset = try #require((serve["cheap_entry"] as? [String: Any])?["file_offset"] as? Int)

        let server = Process()
        server.executableURL = URL(fileURLWithPath: path)
        let sout = Pipe()
        server.standardOutput = sout
        try server.run()
        defer { server.terminate() }
        let first = try #require(LineReader(sout.fileHandleForReading).next())
        let addr = String(first.dropFirst("listening ".count))
        let counter = try UprobeCounter(path: path, offsets: [UInt64(offset)])
        let requests = 20
        var args = ["-s", "-w", "%{http_code}\n"]
        for _ in 0..<requests { args += ["-o", "/dev/null", "http://\(addr)/sleep?ms=0"] }
        #expect(try run("/usr/bin/curl", args).status == 0)
        let hits = try #require(counter.count())
        #expect(hits >= requests && hits <= 2 * requests, "\(hits) hits for \(requests) requests")
        #expect(server.isRunning)
    }

    @Test func allGoFunctionsListsThePclntab() throws {
        guard requireFixtures() else { return }
        let r = try tool("symbols", "dump", Repo.fixture("go-client-stripped"), "--json", "--all-go-functions")
        #expect(r.status == 0)
        let go = try #require(try json(r.stdout)["go"] as? [String: Any])
        let all = try #require(go["all_functions"] as? [[String: Any]])
        #expect(all.count > 4000)
        #expect(all.contains { $0["name"] as? String == "main.main" })
        // The client has no server code: ServeHTTP is absent, not an error.
        #expect(!sites(go).keys.contains("net/http.serverHandler.ServeHTTP"))
    }

    /// An independent uprobe (perf_event_open, no BPF) on every RET of
    /// net/http.serverHandler.ServeHTTP fires exactly once per request.
    @Test(arguments: ["go-server", "go-server-pie", "go-server-stripped"])
    func serveHTTPReturnFiresOncePerRequest(_ name: String) throws {
        guard requireFixtures(), requireRoot() else { return }
        // A copy of its own: the counter counts hits in every process running the
        // file, and other suites run the shared fixture at the same time.
        let path = try FaultTests().privateCopy(name)
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let rets = try #require(sites(try goSection(name))["net/http.serverHandler.ServeHTTP"])

        let server = Process()
        server.executableURL = URL(fileURLWithPath: path)
        let sout = Pipe()
        server.standardOutput = sout
        try server.run()
        defer { server.terminate() }
        let first = try #require(LineReader(sout.fileHandleForReading).next())
        let addr = String(first.dropFirst("listening ".count))

        let counter = try UprobeCounter(path: path, offsets: rets.map { UInt64($0) })
        // The probes put INT3 into executable mappings of the file; our reader must
        // still see the file's own bytes (it maps MAP_SHARED for that reason).
        #expect(sites(try goSection(name))["net/http.serverHandler.ServeHTTP"] == rets)

        let requests = 20
        var args = ["-s", "-w", "%{http_code}\n"]
        for i in 0..<requests { args += ["-o", "/dev/null", "http://\(addr)/" + (i % 2 == 0 ? "sleep?ms=1" : "status?code=404")] }
        let curl = try run("/usr/bin/curl", args)
        #expect(curl.status == 0)
        #expect(curl.stdout.split(separator: "\n").count == requests)
        #expect(counter.count() == requests, "one RET hit per request on \(name)")
        // The traced server is unharmed.
        #expect(server.isRunning)
    }
}
