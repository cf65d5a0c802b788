import Foundation
@testable import GoRuntime
import Symbols
import Testing

@Suite struct GoBuildInfoTests {
    /// What `go version -m BINARY` prints, turned into our model with code
    /// independent of GoModInfo (only the simple quoting `go version -m`
    /// produces for our fixtures is undone).
    static func goVersionM(_ path: String) throws -> GoBuildInfo {
        let (status, out) = GoFixtures.run(["go", "version", "-m", path])
        try #require(status == 0, "go version -m failed: \(out)")
        var lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let first = lines.removeFirst()
        let version = String(first[first.range(of: ": ")!.upperBound...])
        var info = GoBuildInfo(goVersion: version)
        func unquote(_ s: String) -> String {
            guard s.hasPrefix("\""), s.hasSuffix("\""), s.count >= 2 else { return s }
            return String(s.dropFirst().dropLast())
                .replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
        }
        for line in lines where line.hasPrefix("\t") {
            let f = line.dropFirst().split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch f[0] {
            case "path": info.path = f[1]
            case "mod": info.main = GoModule(path: f[1], version: f[2], sum: f.count > 3 ? f[3] : "")
            case "dep": info.deps.append(GoModule(path: f[1], version: f[2], sum: f.count > 3 ? f[3] : ""))
            case "=>":
                let r = GoModule.Version(path: f[1], version: f[2], sum: f.count > 3 ? f[3] : "")
                if info.deps.isEmpty { info.main?.replacement = r } else { info.deps[info.deps.count - 1].replacement = r }
            case "build":
                let kv = f[1...].joined(separator: "\t")
                let eq = kv.firstIndex(of: "=")!
                info.settings.append(GoBuildSetting(key: String(kv[..<eq]), value: unquote(String(kv[kv.index(after: eq)...]))))
            default: break
            }
        }
        return info
    }

    @Test(arguments: GoFixtures.names)
    func matchesGoVersionM(_ name: String) throws {
        guard GoFixtures.available() else { return }
        let path = GoFixtures.path(name)
        let expected = try Self.goVersionM(path)
        let info = try GoBuildInfo.load(path: path)
        #expect(info == expected)
        // Sanity on what the fixtures are known to hold, so an empty parse on both sides cannot pass.
        #expect(info.goVersion.hasPrefix("go1."))
        #expect(info.path.hasPrefix("example.com/uprobe-trace/testdata/"))
        #expect(info.main?.path == "example.com/uprobe-trace/testdata")
        #expect(info.deps == [GoModule(path: "example.com/greet", version: "v0.1.0",
                                       replacement: .init(path: "./greet", version: "(devel)"))])
        #expect(info.setting("GOARCH") == "amd64")
        #expect(info.setting("CGO_ENABLED") == "0")
        if name.hasSuffix("-stripped") { #expect(info.setting("-ldflags") == "-s -w") }
        // Go 1.19 records no -buildmode setting for -buildmode=pie.
    }

    /// Without section headers the loader scans the writable segment for the magic.
    @Test(arguments: ["go-server", "go-client-pie"])
    func scanWithoutSectionHeaders(_ name: String) throws {
        guard GoFixtures.available() else { return }
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: GoFixtures.path(name))))
        let elf = try ELFFile(bytes: GoFixtures.withoutSectionHeaders(bytes))
        #expect(elf.sections.isEmpty)
        #expect(try GoBuildInfo.load(from: elf) == GoBuildInfo.load(path: GoFixtures.path(name)))
    }

    /// Go before 1.18: the header holds pointers to string headers elsewhere in the image.
    @Test(arguments: [false, true])
    func pre118PointerLayout(bigEndian: Bool) throws {
        let modinfo = Array(repeating: UInt8(0x30), count: 16)
            + Array("path\texample.com/old\nmod\texample.com/old\t(devel)\t\ndep\tgolang.org/x/net\tv0.1.0\th1:abc=\n".utf8)
            + Array(repeating: UInt8(0x31), count: 16)
        let version = Array("go1.16.15".utf8)
        func word(_ v: UInt64) -> [UInt8] {
            let le = withUnsafeBytes(of: v.littleEndian) { Array($0) }
            return bigEndian ? le.reversed() : le
        }
        // Image: string headers at 0x1000, string data at 0x2000 and 0x3000.
        let memory: [UInt64: [UInt8]] = [
            0x1000: word(0x2000) + word(UInt64(version.count)) + word(0x3000) + word(UInt64(modinfo.count)),
            0x2000: version, 0x3000: modinfo,
        ]
        let read: GoBuildInfo.MemoryReader = { vaddr, count in
            for (base, bytes) in memory where vaddr >= base && vaddr - base + count <= UInt64(bytes.count) {
                return Array(bytes[Int(vaddr - base)..<Int(vaddr - base + count)])
            }
            return nil
        }
        let header = GoBuildInfo.magic + [8, bigEndian ? 1 : 0] + word(0x1000) + word(0x1010)
        let info = try GoBuildInfo.parse(header, readMemory: read)
        #expect(info.goVersion == "go1.16.15")
        #expect(info.path == "example.com/old")
        #expect(info.main == GoModule(path: "example.com/old", version: "(devel)"))
        #expect(info.deps == [GoModule(path: "golang.org/x/net", version: "v0.1.0", sum: "h1:abc=")])
        #expect(info.settings.isEmpty)
        // Without an image reader the old layout cannot be read.
        #expect(throws: GoRuntimeError.self) { try GoBuildInfo.parse(header) }
        // A pointer outside the image.
        let dangling = GoBuildInfo.magic + [8, bigEndian ? 1 : 0] + word(0x9000) + word(0x1010)
        #expect(throws: GoRuntimeError.self) { try GoBuildInfo.parse(dangling, readMemory: read) }
    }

    @Test func modInfoQuotingAndReplacements() throws {
        let text = "go\tgo1.22.1\npath\tex.com/m/cmd\nmod\tex.com/m\tv1.0.0\th1:x=\n=>\t../m\t(devel)\t\n"
            + "dep\ta.com/b\tv0.2.0\th1:y=\n\nbuild\t-ldflags=\"-X \\\"main.v=1\\\" -s\"\n"
            + "build\t\"we=ird\"=\"tab\\there\"\nbuild\tvcs.modified=true\nfuture\tignored\n"
        let blob = Array(repeating: UInt8(0), count: 16) + Array(text.utf8) + Array(repeating: UInt8(0), count: 16)
        let bytes = GoBuildInfo.magic + [8, 2] + Array(repeating: 0, count: 16)
            + [8] + Array("go1.22.1".utf8) + varint(blob.count) + blob
        let info = try GoBuildInfo.parse(bytes)
        #expect(info.goVersion == "go1.22.1")
        #expect(info.path == "ex.com/m/cmd")
        #expect(info.main == GoModule(path: "ex.com/m", version: "v1.0.0", sum: "h1:x=",
                                      replacement: .init(path: "../m", version: "(devel)")))
        #expect(info.deps == [GoModule(path: "a.com/b", version: "v0.2.0", sum: "h1:y=")])
        #expect(info.settings == [
            GoBuildSetting(key: "-ldflags", value: "-X \"main.v=1\" -s"),
            GoBuildSetting(key: "we=ird", value: "tab\there"),
            GoBuildSetting(key: "vcs.modified", value: "true"),
        ])
    }

    @Test func malformedModInfo() {
        for text in ["=>\t./x\t(devel)\n", "dep\tonlypath\n", "build\tnoequals\n", "build\t\"unterminated=1\n"] {
            let blob = Array(repeating: UInt8(0), count: 16) + Array(text.utf8) + Array(repeating: UInt8(0), count: 16)
            let bytes = GoBuildInfo.magic + [8, 2] + Array(repeating: 0, count: 16) + [3] + Array("go1".utf8) + varint(blob.count) + blob
            #expect(throws: GoRuntimeError.self, "\(text)") { try GoBuildInfo.parse(bytes) }
        }
    }

    /// Cutting the real section anywhere before the end of its module info
    /// throws; garbage never traps.
    @Test func truncatedAndGarbage() throws {
        guard GoFixtures.available() else { return }
        let elf = try ELFFile(path: GoFixtures.path("go-server"))
        let section = try #require(elf.section(named: ".go.buildinfo"))
        let full = Array(try elf.rawData(section))
        _ = try GoBuildInfo.parse(full)
        // The inline strings end where the module info's last sentinel ends.
        var at = 32
        for _ in 0..<2 {
            var n = 0, shift = 0
            while true { let b = full[at]; at += 1; n |= Int(b & 0x7f) << shift; if b < 0x80 { break }; shift += 7 }
            at += n
        }
        for length in 0..<at {
            #expect(throws: GoRuntimeError.self, "length \(length)") { try GoBuildInfo.parse(Array(full[..<length])) }
        }
        // An endless varint.
        #expect(throws: GoRuntimeError.self) {
            try GoBuildInfo.parse(GoBuildInfo.magic + [8, 2] + Array(repeating: 0, count: 16) + Array(repeating: 0xff, count: 12))
        }
        var rng = GoFixtures.SeededRNG(seed: 0xB01D)
        var parsed = 0
        for i in 0..<3000 {
            var b: [UInt8]
            switch i % 3 {
            case 0: // pure garbage
                b = (0..<Int.random(in: 0..<300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1: // valid header, garbage after it
                b = GoBuildInfo.magic + [8, UInt8.random(in: 0...3, using: &rng)]
                    + (0..<Int.random(in: 0..<300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            default: // the real section with a few bytes flipped
                b = full
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    b[Int.random(in: 14..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            if (try? GoBuildInfo.parse(b, readMemory: { _, _ in nil })) != nil { parsed += 1 }
        }
        print("buildinfo garbage: 3000 inputs, \(parsed) parsed without error, none trapped")
    }

    private func varint(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        var v = UInt64(n)
        while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }
}
