import Foundation
import Testing

/// The offsets `symbols resolve` prints are attachable: a counting uprobe
/// opened by an independent harness (Tests/harness/uprobe_count.py, raw
/// perf_event_open on the uprobe PMU, no BPF) at that offset fires exactly
/// once per call in a running PIE fixture.
@Suite struct UprobeAttachTests {
    @Test(arguments: ["fixture-pie", "fixture-nopie"])
    func resolvedOffsetFires(_ name: String) throws {
        guard requireFixtures(), requireRoot() else { return }
        let path = Repo.fixture(name)
        let resolved = try tool("symbols", "resolve", path, "fixture_probe_target", "--json")
        #expect(resolved.status == 0, "\(resolved.stderr)")
        let syms = try #require(try json(resolved.stdout)["symbols"] as? [[String: Any]])
        let offset = try #require(syms.first?["file_offset"] as? Int)

        let fixture = Process()
        fixture.executableURL = URL(fileURLWithPath: path)
        fixture.arguments = ["--loop"]
        let fin = Pipe(), fout = Pipe()
        fixture.standardInput = fin
        fixture.standardOutput = fout
        try fixture.run()
        defer { fixture.terminate() }

        let harness = Process()
        harness.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        harness.arguments = ["python3", Repo.root.appendingPathComponent("Tests/harness/uprobe_count.py").path,
                             path, String(offset)]
        let hin = Pipe(), hout = Pipe()
        harness.standardInput = hin
        harness.standardOutput = hout
        try harness.run()
        defer { harness.terminate() }
        let lines = LineReader(hout.fileHandleForReading)
        #expect(lines.next() == "attached")

        let fixtureLines = LineReader(fout.fileHandleForReading)
        let calls = 25
        for i in 0..<calls {
            fin.fileHandleForWriting.write(Data("line \(i)\n".utf8))
            #expect(fixtureLines.next()?.hasPrefix("ok ") == true)
        }
        hin.fileHandleForWriting.write(Data("count\n".utf8))
        #expect(lines.next() == String(calls), "uprobe at \(name)+0x\(String(offset, radix: 16)) should fire once per call")
    }
}

/// Reads lines from a pipe, one at a time, blocking.
final class LineReader {
    let handle: FileHandle
    var buffer = Data()
    init(_ handle: FileHandle) { self.handle = handle }

    func next() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = buffer[buffer.startIndex..<nl]
                buffer.removeSubrange(buffer.startIndex...nl)
                return String(decoding: line, as: UTF8.self)
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }
}
