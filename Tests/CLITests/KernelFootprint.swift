import Foundation
import Testing

/// What one run of the tool holds in the kernel, seen from outside: its BPF
/// programs (the names in bpf/*.bpf.c) and links (`bpftool prog/link show`),
/// its uprobe perf events (`bpftool perf show`), tracefs uprobe events if
/// libbpf ever fell back to them, and the breakpoints the uprobes write into
/// the text of each traced process (`/proc/PID/mem` against the file).
///
/// Take it while the tool runs, check `expectReleased` after it exited: the
/// snapshot is by id, so programs of other tests running at the same time
/// do not matter.
struct KernelFootprint {
    let tool: Int32
    var programs: Set<Int> = []
    var links: Set<Int> = []
    var perfEvents = 0
    /// uprobe_multi links the tool holds (one per probed file and program).
    var multiLinks = 0

    /// The programs of every family's *.bpf.c (Sources/Families/*/).
    static let programNames: Set<String> = {
        var names: Set<String> = []
        let dir = Repo.root.appendingPathComponent("Sources/Families")
        let files = FileManager.default.enumerator(atPath: dir.path)?.compactMap { $0 as? String } ?? []
        let pattern = /SEC\("u(?:ret)?probe[^"]*"\)\s*int\s+(\w+)\s*\(/
        for f in files where f.hasSuffix(".bpf.c") {
            let text = (try? String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)) ?? ""
            for m in text.matches(of: pattern) { names.insert(String(m.output.1)) }
        }
        return names
    }()

    /// Snapshot of what `tool` holds now. Every process in `traced` must carry
    /// breakpoints in its executable's text now (shows the text check can fail).
    static func take(tool: Int32, traced: [Int32], sourceLocation: SourceLocation = #_sourceLocation) throws -> KernelFootprint {
        #expect(programNames.count >= 10, "program names from Sources/Families/*/*.bpf.c: \(programNames)", sourceLocation: sourceLocation)
        var f = KernelFootprint(tool: tool)
        // bpftool here lists no owning pids for programs and links: the tool's uprobe
        // perf events (which do name their pid) say which programs are its own.
        let uprobes = try bpftool("perf").filter { ($0["pid"] as? Int) == Int(tool) && ($0["fd_type"] as? String)?.hasPrefix("uprobe") == true }
        f.perfEvents = uprobes.count
        // uprobe_multi links are no perf events: the tool's own fds name them
        // (/proc/PID/fdinfo of each anon_inode:bpf_link: link_type, link_id, prog_id).
        let multi = uprobeMultiLinks(of: tool)
        f.multiLinks = multi.count
        let attached = Set(uprobes.compactMap { $0["prog_id"] as? Int } + multi.map(\.prog))
        for p in try bpftool("prog") {
            guard let id = p["id"] as? Int, attached.contains(id), let name = p["name"] as? String else { continue }
            #expect(programNames.contains(name), "a program of the tool not in any family's .bpf.c: \(name)", sourceLocation: sourceLocation)
            f.programs.insert(id)
        }
        for l in try bpftool("link") {
            if let prog = l["prog_id"] as? Int, f.programs.contains(prog), let id = l["id"] as? Int { f.links.insert(id) }
        }
        #expect(!f.programs.isEmpty && !f.links.isEmpty && f.perfEvents + f.multiLinks > 0,
                "the running tool holds programs, links and uprobes: \(f)", sourceLocation: sourceLocation)
        for pid in traced {
            #expect(try textDifferences(pid) > 0, "pid \(pid) carries uprobe breakpoints while traced", sourceLocation: sourceLocation)
        }
        return f
    }

    /// After the tool exited: none of its programs, links or uprobes remain, and every
    /// process in `traced` that still runs has its executable's text back byte for byte.
    /// A closed uprobe_multi link drops its program after an RCU tasks-trace
    /// grace period: programs and links may take a moment (up to 2 s here) to go.
    func expectReleased(traced: [Int32], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let deadline = ContinuousClock.now + .seconds(2)
        var leftPrograms: [Int] = []
        repeat {
            leftPrograms = try Self.bpftool("prog").compactMap { $0["id"] as? Int }.filter { programs.contains($0) }
            if leftPrograms.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.02)
        } while ContinuousClock.now < deadline
        #expect(leftPrograms.isEmpty, "programs left loaded: \(leftPrograms)", sourceLocation: sourceLocation)
        let leftLinks = try Self.bpftool("link").compactMap { $0["id"] as? Int }.filter { links.contains($0) }
        #expect(leftLinks.isEmpty, "links left: \(leftLinks)", sourceLocation: sourceLocation)
        let leftPerf = try Self.bpftool("perf").filter { ($0["prog_id"] as? Int).map(programs.contains) == true || ($0["pid"] as? Int) == Int(tool) }
        #expect(leftPerf.isEmpty, "uprobe perf events left: \(leftPerf)", sourceLocation: sourceLocation)
        for events in ["/sys/kernel/tracing/uprobe_events", "/sys/kernel/debug/tracing/uprobe_events"] {
            guard let text = try? String(contentsOfFile: events, encoding: .utf8) else { continue }
            #expect(!text.contains("libbpf_\(tool)_"), "tracefs uprobes left in \(events): \(text)", sourceLocation: sourceLocation)
        }
        for pid in traced where kill(pid, 0) == 0 {
            #expect(try Self.textDifferences(pid) == 0, "pid \(pid): executable text differs from its file after the tool left", sourceLocation: sourceLocation)
        }
    }

    /// (link id, program id) of every uprobe_multi link `pid` holds, from /proc/PID/fdinfo.
    static func uprobeMultiLinks(of pid: Int32) -> [(link: Int, prog: Int)] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return fds.compactMap { fd in
            guard (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) == "anon_inode:bpf_link",
                  let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8) else { return nil }
            var fields: [String: String] = [:]
            for line in info.split(separator: "\n") {
                let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if kv.count == 2 { fields[kv[0]] = kv[1] }
            }
            guard fields["link_type"] == "uprobe_multi", let link = fields["link_id"].flatMap({ Int($0) }),
                  let prog = fields["prog_id"].flatMap({ Int($0) }) else { return nil }
            return (link, prog)
        }
    }

    private static func bpftool(_ object: String) throws -> [[String: Any]] {
        let r = try run("/usr/sbin/bpftool", ["-j", object, "show"])
        guard r.status == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "bpftool \(object) show: \(r.stderr)"]) }
        if r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return [] }
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
    }

    /// Bytes of `pid`'s executable mappings (in memory, through /proc/PID/mem) that differ
    /// from the executable file: a uprobe shows as an int3 the kernel wrote into the page.
    static func textDifferences(_ pid: Int32) throws -> Int {
        var st = stat()
        guard stat("/proc/\(pid)/exe", &st) == 0 else { return 0 }
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/exe"))
        defer { try? file.close() }
        let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/mem"))
        defer { try? mem.close() }
        var differing = 0, compared = 0
        for line in try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8).split(separator: "\n") {
            // start-end perms offset dev inode path
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, f[1].contains("x"), UInt64(f[4]) == UInt64(st.st_ino) else { continue }
            let range = f[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
            guard range.count == 2, let offset = UInt64(f[2], radix: 16) else { continue }
            let length = Int(min(range[1] - range[0], UInt64(st.st_size) - min(offset, UInt64(st.st_size))))
            try file.seek(toOffset: offset)
            let onDisk = try file.read(upToCount: length) ?? Data()
            try mem.seek(toOffset: range[0])
            let inMemory = try mem.read(upToCount: length) ?? Data()
            guard onDisk.count == inMemory.count else { return Int.max }
            compared += onDisk.count
            if onDisk == inMemory { continue }
            let d = [UInt8](onDisk), m = [UInt8](inMemory)
            for i in d.indices where d[i] != m[i] { differing += 1 }
        }
        #expect(compared > 0, "pid \(pid): no executable mapping of its own file found")
        return differing
    }
}
