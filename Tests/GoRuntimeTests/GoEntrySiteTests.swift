import Foundation
import Testing
@testable import GoRuntime
import Symbols

/// The cheap entry site on real Go binaries: Go 1.19 (the Debian toolchain that
/// builds testdata/bin) has no `push %rbp` after the stack check, so the site is
/// the emulated `jbe`; a newer Go (the fixture matrix, `GoMatrix`) puts it on the `push %rbp`.
@Suite struct GoEntrySiteTests {
    static let netHTTP = [
        ("go-server", "net/http.serverHandler.ServeHTTP"),
        ("go-server", "net/http.(*response).finishRequest"),
        ("go-server", "net/http.(*conn).serve"),
        ("go-client", "net/http.(*Transport).roundTrip"),
        ("go-client", "net/http.(*persistConn).roundTrip"),
    ]

    struct Loaded {
        let elf: ELFFile
        let binary: GoBinary
        func site(_ name: String) throws -> GoEntrySite {
            let f = try #require(binary.functions.function(named: name))
            let code = try #require(elf.bytes(atVirtualAddress: f.entry, count: f.end - f.entry))
            return try #require(goEntrySite(code: code, startOffset: f.fileOffset, goVersion: binary.buildInfo.goVersion, kernel: k618))
        }
    }

    static func load(_ path: String) throws -> Loaded {
        let elf = try ELFFile(path: path)
        return Loaded(elf: elf, binary: try GoBinary.load(elf))
    }

    @Test func go119UsesTheStackCheckBranch() throws {
        guard GoFixtures.available() else { return }
        for (bin, name) in Self.netHTTP {
            let site = try Self.load(GoFixtures.path(bin)).site(name)
            #expect(site.kind == .stackCheckBranch, "\(name)")
            #expect(site.instruction.text.hasPrefix("jbe "), "\(name): \(site.instruction.text)")
            #expect(site.cost == .emulated)
            #expect(site.mayRepeat)
            #expect(site.distance == 4 || site.distance == 9 || site.distance == 12, "\(name) at +\(site.distance)")
        }
    }

    @Test func newerGoUsesThePushAfterTheStackCheck() throws {
        guard let dir = GoMatrix.fixtures(minor: "1.26") else { return }
        for (bin, name) in Self.netHTTP {
            let loaded = try Self.load(dir + "/" + bin)
            #expect(loaded.binary.buildInfo.goVersion == "go1.26.6")
            let site = try loaded.site(name)
            #expect(site.kind == .afterStackCheck, "\(name)")
            #expect(site.instruction.text == "push %rbp")
            #expect(site.cost == .emulated)
            #expect(!site.mayRepeat)
        }
    }

    /// Over every function of the Go 1.19 server: a stack-check site always leads
    /// to the morestack tail, whose last instruction jumps back to the entry (so the
    /// code after the check runs once per call); functions without a stack check
    /// get their entry.
    @Test func everyStackCheckReturnsToTheEntryAfterMorestack() throws {
        guard GoFixtures.available() else { return }
        let loaded = try Self.load(GoFixtures.path("go-server"))
        var kinds: [GoEntrySite.Kind: Int] = [:]
        for f in loaded.binary.functions.functions where !f.isWrapper && f.size > 0 {
            guard let code = loaded.elf.bytes(atVirtualAddress: f.entry, count: f.end - f.entry),
                  let site = goEntrySite(code: code, startOffset: f.fileOffset, kernel: k618) else { continue }
            kinds[site.kind, default: 0] += 1
            guard site.kind != .entry else {
                #expect(site.distance == 0)
                continue
            }
            let jbeIndex = site.kind == .stackCheckBranch ? site.distance : site.distance - 6
            let jbe = try #require(X86Decoder.decode(code, at: jbeIndex), "\(f.name)")
            var i = Int(try #require(jbe.branchTarget(from: jbeIndex)))
            var backToEntry = false
            for _ in 0..<64 {
                guard let insn = X86Decoder.decode(code, at: i) else { break }
                if let t = insn.branchTarget(from: i), code[i] == 0xE9 || code[i] == 0xEB {
                    backToEntry = t == 0
                    break
                }
                i += insn.length
            }
            #expect(backToEntry, "\(f.name): morestack tail does not jump back to the entry")
        }
        #expect(kinds[.stackCheckBranch, default: 0] > 1000, "\(kinds)")
        #expect(kinds[.entry, default: 0] > 500, "\(kinds)")
        #expect(kinds[.afterStackCheck, default: 0] == 0, "Go 1.19 never pushes %rbp: \(kinds)")
    }

    @Test func functionsWithoutAStackCheckGetTheirEntry() throws {
        // Go 1.19 NOSPLIT with a frame: `sub $0x18,%rsp` first, nothing cheaper.
        let nosplit: [UInt8] = [0x48, 0x83, 0xEC, 0x18, 0x48, 0x89, 0x6C, 0x24, 0x10, 0xC3]
        let a = try #require(nosplit.withUnsafeBytes { goEntrySite(code: $0, startOffset: 0x1000, kernel: k618) })
        #expect(a.kind == .entry && a.cost == .singleStepped && a.fileOffset == 0x1000)
        #expect(a.reason.contains("no emulated site"))
        // Go >= 1.21 NOSPLIT with a frame: the entry is the push.
        let pushFirst: [UInt8] = [0x55, 0x48, 0x89, 0xE5, 0x5D, 0xC3]
        let b = try #require(pushFirst.withUnsafeBytes { goEntrySite(code: $0, startOffset: 0x2000, kernel: k618) })
        #expect(b.kind == .entry && b.cost == .emulated)
        // A big-frame check with a push after it.
        let big: [UInt8] = [0x4C, 0x8D, 0x64, 0x24, 0xD8, 0x4D, 0x3B, 0x66, 0x10, 0x76, 0x04, 0x55, 0x90, 0x90, 0xC3, 0xEB, 0xEF]
        let c = try #require(big.withUnsafeBytes { goEntrySite(code: $0, startOffset: 0, kernel: k618) })
        #expect(c.kind == .afterStackCheck && c.distance == 11)
        // A compare that is not against g.stackguard0 is not a stack check.
        let other: [UInt8] = [0x48, 0x3B, 0x47, 0x08, 0x76, 0x01, 0x55, 0xC3]
        let d = try #require(other.withUnsafeBytes { goEntrySite(code: $0, startOffset: 0, kernel: k618) })
        #expect(d.kind == .entry && d.cost == .singleStepped)
    }
}
