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
        #expect(Set(ns.keys) == ["net/http.serverHandler.ServeHTTP", "net/http.(*conn).serve", "net/http.(*Transport).roundTrip",
                                 "net/http.(*persistConn).roundTrip", "runtime.newproc1"])
        #expect(Set(ss.keys) == Set(ns.keys) && Set(ps.keys) == Set(ns.keys))
        for (name, rets) in ns {
            #expect(!rets.isEmpty, "\(name) has RETs (\(ns))")
            #expect(ss[name]?.count == rets.count, "\(name): stripped build has the same code, so the same RET count")
        }

        let offsets = try #require(normal["offsets"] as? [String: [String: Any]])
        let tableOffsets = try #require(stripped["offsets"] as? [String: [String: Any]])
        #expect(offsets.count == 23)
        for (field, o) in offsets {
            #expect(o["source"] as? String == "dwarf", "\(field) from DWARF in the normal build")
            #expect(tableOffsets[field]?["source"] as? String == "table", "\(field) from the table in the stripped build")
            #expect(tableOffsets[field]?["offset"] as? Int == o["offset"] as? Int, "\(field): table agrees with DWARF")
        }
        #expect(offsets["runtime.g.goid"]?["offset"] as? Int == 152)
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
        let path = Repo.fixture(name)
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
