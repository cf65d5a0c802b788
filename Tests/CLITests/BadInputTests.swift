import Foundation
import Testing

/// Every kind of bad input gets exactly one stderr line, starting
/// `uprobe-trace: error:` and carrying a hint, and exit code 1 (2 for usage
/// errors); never a crash, trap or backtrace.
@Suite struct BadInputTests {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("uprobe-trace-bad-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    func file(_ name: String, _ bytes: [UInt8], mode: Int = 0o644) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
        return url.path
    }

    func fixtureBytes() throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Repo.fixture("fixture-pie"))))
    }

    /// One line, the prefix, a hint, the exit code, and something specific in the text.
    func expectOneLine(_ r: RunResult, code: Int32, contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == code, "exit \(r.status), stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderrLines.count == 1, "expected one line, got: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix("uprobe-trace: error: "), sourceLocation: sourceLocation)
        #expect(r.stderr.contains("hint:"), sourceLocation: sourceLocation)
        #expect(r.stderr.contains(text), "\(r.stderr) should mention \(text)", sourceLocation: sourceLocation)
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), sourceLocation: sourceLocation)
    }

    @Test func notAnELF() throws {
        let p = try file("script.sh", Array("#!/bin/sh\necho hello\n".utf8))
        expectOneLine(try tool("symbols", "dump", p), code: 1, contains: "not an ELF file")
        expectOneLine(try tool("symbols", "resolve", p, "main"), code: 1, contains: "not an ELF file")
    }

    @Test func emptyFile() throws {
        let p = try file("empty", [])
        expectOneLine(try tool("symbols", "dump", p), code: 1, contains: "empty file")
    }

    /// Cut the PIE fixture at every header boundary (and one byte either side).
    @Test func truncatedAtEveryHeaderBoundary() throws {
        guard requireFixtures() else { return }
        let bytes = try fixtureBytes()
        func u64(_ o: Int) -> Int { Int(bytes[o..<o + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }) }
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        let phoff = u64(32), shoff = u64(40), phnum = u16(56), shnum = u16(60)
        var cuts: Set<Int> = [1, 3, 4, 5, 6, 16, 17, 63, 64, 65, phoff + 1, phoff + phnum * 56 - 1, shoff, shoff + 1,
                              shoff + shnum * 64 - 1]
        for i in 1..<phnum { cuts.insert(phoff + i * 56) }
        for i in stride(from: 1, to: shnum, by: 7) { cuts.insert(shoff + i * 64) }
        var checked = 0
        for cut in cuts.sorted() where cut < bytes.count {
            let p = try file("truncated-\(cut)", Array(bytes[..<cut]))
            let r = try tool("symbols", "dump", p, "--json")
            expectOneLine(r, code: 1, contains: "truncated")
            checked += 1
        }
        #expect(checked >= 20)
        print("truncations checked: \(checked)")
    }

    @Test func elf32() throws {
        guard requireFixtures() else { return }
        var bytes = try fixtureBytes()
        bytes[4] = 1
        let p = try file("elf32", bytes)
        expectOneLine(try tool("symbols", "dump", p), code: 1, contains: "32-bit")
    }

    @Test func bigEndian() throws {
        guard requireFixtures() else { return }
        var bytes = try fixtureBytes()
        bytes[5] = 2
        let p = try file("bigendian", bytes)
        expectOneLine(try tool("symbols", "dump", p), code: 1, contains: "big-endian")
    }

    /// A non-x86-64 object still lists, with one note saying attaching will not work.
    @Test func otherMachineListsWithNote() throws {
        guard requireFixtures() else { return }
        var bytes = try fixtureBytes()
        bytes[18] = 183  // EM_AARCH64
        bytes[19] = 0
        let p = try file("aarch64", bytes)
        let r = try tool("symbols", "dump", p)
        #expect(r.status == 0)
        #expect(r.stdout.contains("fixture_add"))
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.contains("AArch64") && r.stderr.contains("cannot attach"))
    }

    @Test func missingFile() throws {
        expectOneLine(try tool("symbols", "dump", dir.appendingPathComponent("nope").path), code: 1, contains: "no such file")
        expectOneLine(try tool("symbols", "dump", "libdefinitelynotthere.so.9"), code: 1, contains: "libdefinitelynotthere.so.9")
    }

    @Test func directory() throws {
        expectOneLine(try tool("symbols", "dump", dir.path), code: 1, contains: "is a directory")
    }

    /// Root reads everything, so the unreadable case runs the tool as nobody.
    @Test func unreadableFile() throws {
        guard requireFixtures() else { return }
        let p = try file("secret", try fixtureBytes(), mode: 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        let r: RunResult
        if getuid() == 0 {
            r = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Repo.tool, "symbols", "dump", p])
        } else {
            r = try tool("symbols", "dump", p)
        }
        expectOneLine(r, code: 1, contains: "permission denied")
    }

    @Test func missingSymbol() throws {
        guard requireFixtures() else { return }
        let r = try tool("symbols", "resolve", Repo.fixture("fixture-pie"), "fixture_ad")
        expectOneLine(r, code: 1, contains: "no symbol fixture_ad")
        #expect(r.stderr.contains("fixture_add"), "suggests the near name")
    }

    @Test func nonexistentPID() throws {
        guard requireFixtures() else { return }
        let r = try tool("symbols", "dump", Repo.fixture("fixture-pie"), "--pid", "4194303")
        expectOneLine(r, code: 1, contains: "no process with pid 4194303")
    }

    @Test(arguments: ["abc", "=-5", "0", "12x"])
    func nonNumericPID(_ pid: String) throws {
        guard requireFixtures() else { return }
        let r = try tool("symbols", "dump", Repo.fixture("fixture-pie"), pid.hasPrefix("=") ? "--pid\(pid)" : "--pid", pid.hasPrefix("=") ? "--json" : pid)
        expectOneLine(r, code: 2, contains: "not a process id")
    }

    /// `--postgres` given a library without libpq's functions, or one that does not exist.
    @Test func postgresWrongLibrary() throws {
        expectOneLine(try tool("--postgres", "/lib/x86_64-linux-gnu/libz.so.1"), code: 1, contains: "defines none of PQsendQuery")
        expectOneLine(try tool("--postgres", "libnothere.so.9"), code: 1, contains: "libnothere.so.9 not found")
    }

    @Test func usageErrors() throws {
        expectOneLine(try tool("symbols", "dump"), code: 2, contains: "target")
        expectOneLine(try tool("symbols", "resolve", "/bin/true"), code: 2, contains: "symbol")
        expectOneLine(try tool("symbols", "dump", "/bin/true", "--bogus"), code: 2, contains: "--bogus")
    }

    @Test func helpShowsExamples() throws {
        for sub in ["dump", "resolve"] {
            let r = try tool("symbols", sub, "--help")
            #expect(r.status == 0)
            #expect(r.stdout.contains("Examples:"))
            #expect(r.stdout.contains("uprobe-trace symbols \(sub) "))
        }
    }
}
