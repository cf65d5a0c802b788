import Foundation
import Testing

/// `symbols dump --pid` on a live fixture: the runtime addresses we compute
/// from /proc/PID/maps equal the function and object pointers the fixture
/// prints about itself (PIE: randomized base; non-PIE: link addresses).
@Suite struct LiveProcessTests {
    @Test(arguments: ["fixture-pie", "fixture-nopie"])
    func runtimeAddressesMatchSelfReport(_ name: String) throws {
        guard requireFixtures() else { return }
        let path = Repo.fixture(name)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["--print", "--wait"]
        let fin = Pipe(), fout = Pipe()
        p.standardInput = fin
        p.standardOutput = fout
        try p.run()
        defer { p.terminate() }
        let lines = LineReader(fout.fileHandleForReading)
        var printed: [String: UInt64] = [:]
        while let line = lines.next(), line != "ready" {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = UInt64(parts[1].dropFirst(2), radix: 16) { printed[String(parts[0])] = v }
        }
        #expect(printed.count == 7)

        let r = try tool("symbols", "dump", path, "--pid", String(p.processIdentifier), "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try json(r.stdout)
        #expect(doc["pid"] as? Int == Int(p.processIdentifier))
        let syms = try #require(doc["symbols"] as? [[String: Any]])
        var compared = 0
        for (symbol, address) in printed {
            let entry = syms.first { $0["name"] as? String == symbol && $0["table"] as? String == "symtab" }
            let runtime = try #require(entry?["runtime_address"] as? Int, "\(symbol) has a runtime address")
            #expect(UInt64(runtime) == address, "\(symbol): ours 0x\(String(runtime, radix: 16)) vs printed 0x\(String(address, radix: 16))")
            compared += 1
        }
        #expect(compared == 7)

        // A bare library name with --pid finds the libc this process maps.
        let libc = try tool("symbols", "resolve", "libc.so.6", "getenv", "--pid", String(p.processIdentifier), "--json")
        #expect(libc.status == 0, "\(libc.stderr)")
        let libcDoc = try json(libc.stdout)
        #expect((libcDoc["path"] as? String)?.hasSuffix("libc.so.6") == true)
        let getenv = try #require((libcDoc["symbols"] as? [[String: Any]])?.first)
        #expect(getenv["runtime_address"] as? Int != nil)
    }

    @Test func targetNotMappedByProcess() throws {
        guard requireFixtures() else { return }
        let r = try tool("symbols", "dump", Repo.fixture("fixture-pie"), "--pid", String(getpid()))
        #expect(r.status == 1)
        #expect(r.stderr.contains("does not map"))
        let lib = try tool("symbols", "dump", "libmariadb.so", "--pid", String(getpid()))
        #expect(lib.status == 1)
        #expect(lib.stderr.contains("maps no library matching libmariadb.so"))
    }
}
