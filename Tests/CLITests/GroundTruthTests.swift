import Foundation
import Testing

/// `symbols dump --json` against pyelftools (Tests/groundtruth/elf_symbols.py):
/// every symbol of .symtab and .dynsym, with address, size, version, type,
/// bind, section and file offset, must be identical.
@Suite struct GroundTruthTests {
    static let targets = [
        "/lib/x86_64-linux-gnu/libssl.so.3",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "fixture-pie",
        "fixture-nopie",
        "go-server-pie",
    ]

    @Test(arguments: targets)
    func dumpEqualsPyelftools(_ target: String) throws {
        guard requireFixtures() else { return }
        let path = target.hasPrefix("/") ? target : Repo.fixture(target)
        let ours = try tool("symbols", "dump", path, "--json")
        #expect(ours.status == 0, "\(ours.stderr)")
        let truth = try run("/usr/bin/env", ["python3", Repo.root.appendingPathComponent("Tests/groundtruth/elf_symbols.py").path, path])
        guard require(truth.status == 0, "pyelftools ground truth failed (pip install pyelftools): \(truth.stderr)") else { return }

        let a = try json(ours.stdout), b = try json(truth.stdout)
        #expect(a["type"] as? String == b["type"] as? String)
        #expect(a["build_id"] as? String == b["build_id"] as? String)
        let mine = try canonical(a["symbols"]), theirs = try canonical(b["symbols"])
        #expect(mine.count == theirs.count)
        let missing = theirs.subtracting(mine), extra = mine.subtracting(theirs)
        #expect(missing.isEmpty, "missing or different: \(missing.prefix(5))")
        #expect(extra.isEmpty, "not in ground truth: \(extra.prefix(5))")
        let defined = theirs.filter { $0.contains("\"file_offset\":") && !$0.contains("\"file_offset\":null") }
        #expect(defined.count > 10)
        print("\(target): \(theirs.count) symbols compared, \(defined.count) with a file offset")
    }

    /// Each symbol as a canonical JSON string (sorted keys), as a multiset-free set
    /// tagged with its position in the table so duplicates stay distinct.
    private func canonical(_ value: Any?) throws -> Set<String> {
        guard let list = value as? [[String: Any]] else { throw CocoaError(.propertyListReadCorrupt) }
        var seen: [String: Int] = [:]
        var out = Set<String>()
        for item in list {
            let data = try JSONSerialization.data(withJSONObject: item, options: [.sortedKeys])
            let s = String(decoding: data, as: UTF8.self)
            let n = seen[s, default: 0]
            seen[s] = n + 1
            out.insert(n == 0 ? s : s + "#\(n)")
        }
        return out
    }
}
