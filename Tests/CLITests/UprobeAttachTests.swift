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

        let counter = try UprobeCounter(path: path, offsets: [UInt64(offset)])

        let fixtureLines = LineReader(fout.fileHandleForReading)
        let calls = 25
        for i in 0..<calls {
            fin.fileHandleForWriting.write(Data("line \(i)\n".utf8))
            #expect(fixtureLines.next()?.hasPrefix("ok ") == true)
        }
        #expect(counter.count() == calls, "uprobe at \(name)+0x\(String(offset, radix: 16)) should fire once per call")
    }
}

/// The independent uprobe harness (Tests/harness/uprobe_count.py): bare
/// counting uprobes at file offsets, no BPF, alive until this object goes.
final class UprobeCounter {
    let process = Process()
    private let input = Pipe()
    private let lines: LineReader

    init(path: String, offsets: [UInt64]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Repo.root.appendingPathComponent("Tests/harness/uprobe_count.py").path, path]
            + offsets.map { String($0) }
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        lines = LineReader(output.fileHandleForReading)
        #expect(lines.next() == "attached")
    }

    /// Hits so far, summed over every offset.
    func count() -> Int? {
        input.fileHandleForWriting.write(Data("count\n".utf8))
        return lines.next().flatMap { Int($0) }
    }

    deinit { process.terminate() }
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
            if chunk.isEmpty {
                // End of file: a last line without a newline is still a line.
                defer { buffer.removeAll() }
                return buffer.isEmpty ? nil : String(decoding: buffer, as: UTF8.self)
            }
            buffer.append(chunk)
        }
    }
}
