import Attach
import CLibBPF
import Foundation
import Symbols
import Testing

/// uprobe_multi links against perf uprobes, for real (root): the same
/// counting program (testdata/bpf/site_count.bpf.c, one counter per attach
/// cookie) at several sites of the C fixture and at 60 functions of the libc a
/// fixture process maps. Serialized: the detach times are measured.
@Suite(.serialized) struct UprobeMultiBPFTests {
    static let sitesToDetach = 60

    /// Whether this test can run in `mode`: root, the fixtures, and for
    /// `.multi` a kernel that makes uprobe_multi links. If not, it records an
    /// issue under CI=true (the test fails) and prints why otherwise.
    static func canRun(_ mode: UprobeAttachMode) -> Bool {
        var why: String?
        if geteuid() != 0 {
            why = "not root (BPF tests need CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)"
        } else if let missing = fixturesUnavailable {
            why = missing
        } else if mode == .multi, KernelFeatures.uprobeMulti != .available {
            why = "uprobe_multi links do not work here: \(KernelFeatures().uprobeMultiCheck().detail)"
        }
        guard let why else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("uprobe_multi root BPF test (\(mode)) cannot run: \(why)")
        } else {
            print("skipping uprobe_multi root BPF test (\(mode)): \(why)")
        }
        return false
    }

    static let fixturesUnavailable: String? = {
        let needed = ["fixture-pie", "site_count.bpf.o"].map(GoHTTPTestSupport.fixture)
        if needed.allSatisfy(FileManager.default.fileExists) { return nil }
        let (status, out) = GoHTTPTestSupport.run("/bin/bash", [GoHTTPTestSupport.testdata.appendingPathComponent("build.sh").path])
        if needed.allSatisfy(FileManager.default.fileExists) { return nil }
        return "testdata/build.sh did not build \(needed) (\(status)): \(out)"
    }()

    /// The counting program, opened in `mode` and loaded.
    func counter(_ mode: UprobeAttachMode) throws -> BPFObject {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: GoHTTPTestSupport.fixture("site_count.bpf.o"))))
        let object = try BPFObject(name: "site_count", elf: bytes)
        try object.setAttachMode(mode)
        try object.load()
        #expect(object.attachMode == mode)
        return object
    }

    /// site_hits[cookie] for every cookie in `cookies` (`bpf_map_lookup_elem`).
    func hits(_ object: BPFObject, _ cookies: [UInt64]) throws -> [UInt64: UInt64] {
        let fd = try object.mapFD(BPFMapName("site_hits"))
        var result: [UInt64: UInt64] = [:]
        for cookie in cookies {
            var key = UInt32(cookie)
            var value: UInt64 = 0
            #expect(bpf_map_lookup_elem(fd, &key, &value) == 0)
            result[cookie] = value
        }
        return result
    }

    /// BPF link file descriptors this process holds (`anon_inode:bpf_link`).
    /// Kernel ids of the BPF links this process holds now (`link_id` in
    /// /proc/self/fdinfo). Ids are never reused, unlike fd numbers, so suites
    /// running in parallel in this process cannot disturb a comparison.
    /// This process's BPF links (by link id); with `programs`, only the links of
    /// those program ids (other suites attach links in this process at the same time).
    func linkIDs(programs: Set<Int>? = nil) -> Set<Int> {
        let dir = "/proc/self/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return Set(names.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)")) == "anon_inode:bpf_link" }
            .compactMap { fd -> Int? in
                guard let info = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8) else { return nil }
                func field(_ name: String) -> Int? {
                    info.split(separator: "\n").first(where: { $0.hasPrefix(name) })
                        .flatMap { Int($0.dropFirst(name.count).trimmingCharacters(in: .whitespaces)) }
                }
                if let programs, !programs.contains(field("prog_id:") ?? -1) { return nil }
                return field("link_id:")
            })
    }

    /// A fixture-pie child with its stdin and stdout as pipes.
    func startFixture(_ args: [String]) throws -> (Process, FileHandle, FileHandle) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: GoHTTPTestSupport.fixture("fixture-pie"))
        p.arguments = args
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        return (p, input.fileHandleForWriting, output.fileHandleForReading)
    }

    /// Four entry sites of the fixture (cookies 0–3) and a uretprobe on the
    /// one `--loop` calls per line (cookie 10): each counter must equal the
    /// calls its function got, and in `.multi` mode the five sites are two
    /// links (entries, returns), not five.
    @Test(arguments: [UprobeAttachMode.multi, .perf])
    func countsEveryCallPerSiteBPF(mode: UprobeAttachMode) throws {
        guard Self.canRun(mode) else { return }
        let path = GoHTTPTestSupport.fixture("fixture-pie")
        let elf = try ELFFile(path: path)
        let names = ["fixture_probe_target", "fixture_add", "fixture_static_mul", "fixture_weak"]
        let offsets = try names.map { name in
            let sym = try #require(try elf.lookup(name).first { $0.isFunction && $0.isDefined }, "\(name)")
            return try #require(elf.fileOffset(of: sym))
        }
        let object = try counter(mode)
        defer { object.detach() }
        let (child, stdin, stdout) = try startFixture(["--loop"])
        defer { if child.isRunning { child.terminate() } }

        let programs = Set(try object.programs().map { Int($0.id) })
        let before = linkIDs(programs: programs)
        try object.attachUprobes(program: BPFProgramName("count_site"), path: path, offsets: offsets, cookies: [0, 1, 2, 3], pid: child.processIdentifier)
        try object.attachUprobes(program: BPFProgramName("count_site"), path: path, offsets: [offsets[0]], cookies: [10],
                                 pid: child.processIdentifier, retprobe: true)
        #expect(object.attachedCount == 5)
        let ours = linkIDs(programs: programs).subtracting(before)
        if mode == .multi { #expect(ours.count == 2, "one uprobe_multi link per attachUprobes call") }

        let lines = 7
        for i in 0..<lines { stdin.write(Data("line \(i)\n".utf8)) }
        try stdin.close()
        let out = String(decoding: stdout.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        #expect(out.split(separator: "\n").count == lines, "\(out)")
        #expect(child.terminationStatus == 0)

        // --loop calls fixture_probe_target once per line; at exit main calls
        // fixture_static_mul, fixture_weak and fixture_add once each.
        let counted = try hits(object, [0, 1, 2, 3, 10])
        #expect(counted == [0: UInt64(lines), 1: 1, 2: 1, 3: 1, 10: UInt64(lines)], "\(mode): \(counted)")

        object.detach()
        #expect(linkIDs().isDisjoint(with: ours))
        #expect(object.attachedCount == 0)
    }

    /// 60 libc functions in one fixture process: attach, then detach. One
    /// uprobe_multi link detaches in one kernel wait (< 1 s); perf uprobes
    /// wait once per site. Prints both times.
    @Test(arguments: [UprobeAttachMode.multi, .perf])
    func detachesManySitesBPF(mode: UprobeAttachMode) throws {
        guard Self.canRun(mode) else { return }
        let (child, stdin, _) = try startFixture(["--wait"])
        defer {
            try? stdin.close()
            child.waitUntilExit()
        }
        // The child maps libc once ld.so has run: wait for it rather than race it.
        var found: String?
        for _ in 0..<200 where found == nil {
            let maps = (try? String(contentsOfFile: "/proc/\(child.processIdentifier)/maps", encoding: .utf8)) ?? ""
            found = maps.split(separator: "\n").compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).last }
                .first { $0.hasPrefix("/") && $0.contains("/libc.so") }.map(String.init)
            if found == nil { usleep(10_000) }
        }
        let libc = try #require(found, "fixture-pie never mapped libc")
        let elf = try ELFFile(path: libc)
        var seen = Set<UInt64>()
        let offsets = try elf.symbols()
            .filter { $0.table == .dynsym && $0.isFunction && $0.isDefined && $0.size > 0 }
            .sorted { $0.value < $1.value }
            .compactMap { elf.fileOffset(of: $0) }
            .filter { seen.insert($0).inserted }
            .prefix(Self.sitesToDetach)
        try #require(offsets.count == Self.sitesToDetach)

        let object = try counter(mode)
        defer { object.detach() }
        let clock = ContinuousClock()
        let attach = try clock.measure {
            try object.attachUprobes(program: BPFProgramName("count_site"), path: libc, offsets: Array(offsets),
                                     cookies: offsets.indices.map { UInt64($0) }, pid: child.processIdentifier)
        }
        #expect(object.attachedCount == Self.sitesToDetach)
        let detach = clock.measure { object.detach() }
        #expect(object.attachedCount == 0)
        print("\(mode): \(Self.sitesToDetach) sites of \(libc): attach \(attach), detach \(detach)")
        if mode == .multi { #expect(detach < .seconds(1), "detaching one uprobe_multi link of \(Self.sitesToDetach) sites took \(detach)") }
    }
}
