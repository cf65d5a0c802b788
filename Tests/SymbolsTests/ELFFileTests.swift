import Foundation
import Testing
@testable import Symbols

/// The ELF reader's own features, each against binutils (readelf/objcopy).
@Suite struct ELFFileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let bin = root.appendingPathComponent("testdata/bin")
    static let built: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root.appendingPathComponent("testdata/build.sh").path]
        p.standardOutput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    func fixture(_ name: String) throws -> String {
        if !Self.built && ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("testdata/build.sh failed") }
        return Self.bin.appendingPathComponent(name).path
    }

    func shell(_ cmd: String) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return data
    }

    /// objcopy's decompressed copy of `section` (named without the z for .zdebug).
    func decompressedByObjcopy(_ path: String, section: String) throws -> [UInt8] {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("elf-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        _ = try shell("objcopy --decompress-debug-sections '\(path)' '\(tmp.path).full' && objcopy --dump-section \(section)='\(tmp.path)' '\(tmp.path).full'; rm -f '\(tmp.path).full'")
        return [UInt8](try Data(contentsOf: tmp))
    }

    @Test func shfCompressedSectionDecompresses() throws {
        let path = try fixture("fixture-gz")
        let elf = try ELFFile(path: path)
        let s = try #require(elf.section(named: ".debug_info"))
        #expect(s.flags & Section.flagCompressed != 0, "gcc -gz=zlib should set SHF_COMPRESSED")
        let ours = try elf.data(s)
        #expect(ours.count > 100)
        #expect(ours == (try decompressedByObjcopy(path, section: ".debug_info")))
    }

    /// Go 1.19 compresses its DWARF with SHF_COMPRESSED too.
    @Test func goCompressedDWARFDecompresses() throws {
        let path = try fixture("go-server")
        let elf = try ELFFile(path: path)
        let s = try #require(elf.section(named: ".debug_abbrev"))
        #expect(s.flags & Section.flagCompressed != 0)
        let ours = try elf.data(s)
        #expect(ours.count > 100)
        #expect(ours == (try decompressedByObjcopy(path, section: ".debug_abbrev")))
    }

    /// Legacy `.zdebug_*` sections ("ZLIB" + big-endian size), as older
    /// toolchains wrote them; objcopy makes one from the fixture.
    @Test func zdebugSectionDecompresses() throws {
        let path = try fixture("fixture-pie")
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("zdebug-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        _ = try shell("objcopy --compress-debug-sections=zlib-gnu '\(path)' '\(tmp)'")
        let elf = try ELFFile(path: tmp)
        let s = try #require(elf.section(named: ".zdebug_info"))
        let ours = try elf.data(s)
        #expect(ours == (try decompressedByObjcopy(path, section: ".debug_info")))
    }

    @Test(arguments: ["fixture-pie", "fixture-nopie"])
    func buildIDMatchesReadelf(_ name: String) throws {
        let path = try fixture(name)
        let notes = String(decoding: try shell("readelf -n '\(path)'"), as: UTF8.self)
        let id = try #require(try ELFFile(path: path).buildID)
        #expect(notes.contains("Build ID: \(id)"))
    }

    @Test func goBuildIDMatchesGoTool() throws {
        let path = try fixture("go-server")
        let expected = String(decoding: try shell("go tool buildid '\(path)'"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try ELFFile(path: path).goBuildID == expected)
    }

    @Test func debugLinkMatchesReadelf() throws {
        let path = "/lib/x86_64-linux-gnu/libssl.so.3"
        let dump = String(decoding: try shell("readelf --string-dump=.gnu_debuglink '\(path)'"), as: UTF8.self)
        let link = try #require(try ELFFile(path: path).debugLink)
        #expect(dump.contains(link.file))
        #expect(link.file.hasSuffix(".debug"))
    }

    @Test func fileOffsetsThroughSegments() throws {
        // Non-PIE: code linked at 0x400000+, so address != offset; PIE: equal for .text in the first segments.
        let nopie = try ELFFile(path: try fixture("fixture-nopie"))
        let f = try #require(try nopie.lookup("fixture_add").first)
        let off = try #require(nopie.fileOffset(of: f))
        #expect(f.value - off == 0x400000)
        #expect(nopie.virtualAddress(forFileOffset: off) == f.value)
        // The bytes at the file offset are the bytes at the address.
        #expect(Array(try #require(nopie.bytes(atVirtualAddress: f.value, count: 8))) == Array(nopie.bytes[Int(off)..<Int(off) + 8]))
        // An address in .bss has no file bytes.
        let bss = try #require(nopie.section(named: ".bss"))
        #expect(nopie.fileOffset(forVirtualAddress: bss.address + bss.size - 1) == nil)
    }

    @Test func versionedLookup() throws {
        let libc = try ELFFile(path: "/lib/x86_64-linux-gnu/libc.so.6")
        let memcpy = try libc.lookup("memcpy")
        #expect(memcpy.count >= 2, "libc defines memcpy@GLIBC_2.2.5 and memcpy@@GLIBC_2.14")
        let v14 = try libc.lookup("memcpy@@GLIBC_2.14")
        #expect(v14.count == 1 && v14[0].versionHidden == false && v14[0].displayName == "memcpy@@GLIBC_2.14")
        let old = try libc.lookup("memcpy@GLIBC_2.2.5")
        #expect(old.count == 1 && old[0].versionHidden && old[0].displayName == "memcpy@GLIBC_2.2.5")
        #expect(old[0].value != v14[0].value)
    }

    /// `.gnu.version_r`: an undefined symbol carries the version it requires, as a reference.
    @Test func requiredVersion() throws {
        let ls = try ELFFile(path: "/bin/ls")
        let malloc = try #require(try ls.symbols().first { $0.name == "malloc" && !$0.isDefined })
        #expect(malloc.version?.hasPrefix("GLIBC_2.") == true && malloc.versionHidden)
    }

    /// Inputs the fuzzer once crashed on: they must parse or throw, never trap.
    @Test func fuzzRegressions() throws {
        let dir = Self.root.appendingPathComponent("testdata/fuzz/elf-regressions")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!files.isEmpty)
        for f in files {
            let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(f)))
            guard let elf = try? ELFFile(path: f, bytes: bytes) else { continue }
            for s in elf.sections { _ = try? elf.data(s) }
            _ = try? elf.symbols()
        }
    }
}
