import Foundation
import GoRuntime
import Symbols
import Testing

@Suite struct GoPCLNTabTests {
    static let programs = ["go-server", "go-client"]

    static func elf(_ name: String) throws -> ELFFile { try ELFFile(path: GoFixtures.path(name)) }

    /// A `.symtab` name (as `go tool nm` and readelf print it) in pclntab spelling.
    ///
    /// Naming differences seen with Go 1.19:
    /// - `.abi0`: `.symtab` marks ABI0 functions (assembly, and the ABI wrappers of
    ///   Go functions) `runtime.memmove.abi0`; the pclntab says `runtime.memmove`.
    /// - brackets: the pclntab shortens every top-level `[...]` group, so
    ///   `(*nistCurve[*crypto/internal/nistec.P224Point]).Params` and
    ///   `type..eq.[2]runtime.Frame` become `(*nistCurve[...]).Params` and
    ///   `type..eq.[...]runtime.Frame`.
    /// - `·`: the pclntab keeps the middle dot of `type..eq.net.dialResult·1`
    ///   where `.symtab` has a plain dot; both sides are mapped to `.`.
    static func pclntabSpelling(_ symtabName: String) -> String {
        var name = symtabName
        if name.hasSuffix(".abi0") { name.removeLast(5) }
        var out = ""
        var depth = 0
        for c in name {
            if c == "[" { depth += 1; if depth == 1 { out += "[..." }; continue }
            if c == "]" { depth -= 1; if depth == 0 { out += "]" }; continue }
            if depth == 0 { out.append(c) }
        }
        return dots(out)
    }

    static func dots(_ name: String) -> String { name.replacingOccurrences(of: "·", with: ".") }

    /// Text symbols as `go tool nm -size -sort address` lists them: (name, address),
    /// names in pclntab spelling (see `pclntabSpelling`).
    ///
    /// Exclusions: `runtime.text` and `runtime.etext`, zero-sized linker markers
    /// for the start and end of text that are not functions and have no functab
    /// entry. Nothing else is excluded.
    static func goToolNm(_ path: String) throws -> [(String, UInt64)] {
        let (status, out) = GoFixtures.run(["go", "tool", "nm", "-size", "-sort", "address", path])
        try #require(status == 0, "go tool nm failed: \(out)")
        var result: [(String, UInt64)] = []
        for line in out.split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
            guard f.count == 4, f[2] == "T" || f[2] == "t" else { continue }
            let name = String(f[3])
            if name == "runtime.text" || name == "runtime.etext" { continue }
            result.append((pclntabSpelling(name), UInt64(f[0], radix: 16)!))
        }
        return result
    }

    @Test(arguments: programs)
    func matchesGoToolNm(_ name: String) throws {
        guard GoFixtures.available() else { return }
        let table = try GoFunctionTable.load(from: Self.elf(name))
        let nm = try Self.goToolNm(GoFixtures.path(name))
        let ours = table.functions.map { (Self.dots($0.name), $0.entry) }
        #expect(ours.count == nm.count)
        let missing = Set(nm.map { "\($0.0)@\(String($0.1, radix: 16))" })
            .subtracting(ours.map { "\($0.0)@\(String($0.1, radix: 16))" })
        let extra = Set(ours.map { "\($0.0)@\(String($0.1, radix: 16))" })
            .subtracting(nm.map { "\($0.0)@\(String($0.1, radix: 16))" })
        #expect(missing.isEmpty, "in go tool nm only: \(missing.sorted().prefix(20))")
        #expect(extra.isEmpty, "in the pclntab only: \(extra.sorted().prefix(20))")
        print("\(name): \(ours.count) pclntab functions compared with go tool nm (\(nm.count) text symbols after excluding runtime.text/etext)")
        // Ends chain: each function ends where the next begins.
        for (a, b) in zip(table.functions, table.functions.dropFirst()) { #expect(a.end == b.entry) }
        #expect(table.functions.last!.end > table.functions.last!.entry)
    }

    /// Every pclntab function is a FUNC symbol of .symtab at the same address, and vice versa.
    @Test(arguments: programs.flatMap { [$0, "\($0)-pie"] })
    func agreesWithSymtab(_ name: String) throws {
        guard GoFixtures.available() else { return }
        let elf = try Self.elf(name)
        let table = try GoFunctionTable.load(from: elf)
        let text = try #require(elf.section(named: ".text"))
        // Keyed by address: names are not unique (wrappers, generic shapes).
        var symtab: [UInt64: String] = [:]
        var abi0: Set<UInt64> = []
        for s in try elf.symbols() where s.table == .symtab && s.isFunction && Int(s.sectionIndex) == text.index {
            if s.name == "runtime.text" || s.name == "runtime.etext" { continue }
            symtab[s.value] = Self.pclntabSpelling(s.name)
            if s.name.hasSuffix(".abi0") { abi0.insert(s.value) }
        }
        #expect(symtab.count == table.functions.count)
        var mismatched: [String] = []
        for f in table.functions where symtab[f.entry] != Self.dots(f.name) { mismatched.append(f.name) }
        #expect(mismatched.isEmpty, "\(mismatched.prefix(20))")
        // Where a (non-generic) name occurs twice, .symtab tells the two apart
        // by `.abi0`: a Go function and its ABI0 wrapper, or an assembly function
        // (`X.abi0`) and its ABIInternal wrapper `X`. Either way the wrapper is
        // emitted after the real function and the pclntab flags it as a wrapper,
        // so function(named:) returns the real one, the lower address.
        // One exception: reflect.callMethod is flagged a wrapper itself (the
        // runtime hides it from tracebacks), so both copies are flagged.
        var pairs = 0
        for (name, group) in Dictionary(grouping: table.functions, by: \.name) where group.count == 2 && !name.contains("[") {
            let (real, wrapper) = (group.min { $0.entry < $1.entry }!, group.max { $0.entry < $1.entry }!)
            #expect(abi0.contains(real.entry) != abi0.contains(wrapper.entry), "\(name): one of the two is X.abi0")
            #expect(wrapper.isWrapper, "\(name)")
            #expect(real.isWrapper == (name == "reflect.callMethod"), "\(name)")
            #expect(table.function(named: name) == real, "\(name)")
            pairs += 1
        }
        #expect(pairs > 0)
        print("\(name): \(table.functions.count) pclntab entries agree with .symtab FUNC symbols; \(pairs) names shared with an ABI wrapper")
    }

    /// Stripped and PIE builds have the same functions; offsets are right in each.
    @Test(arguments: programs)
    func strippedAndPIE(_ name: String) throws {
        guard GoFixtures.available() else { return }
        let normalELF = try Self.elf(name)
        let normal = try GoFunctionTable.load(from: normalELF)
        let strippedELF = try Self.elf("\(name)-stripped")
        let pieELF = try Self.elf("\(name)-pie")
        #expect(try strippedELF.symbols().filter { $0.table == .symtab }.isEmpty, "the stripped build has no .symtab")
        let stripped = try GoFunctionTable.load(from: strippedELF)
        let pie = try GoFunctionTable.load(from: pieELF)
        #expect(pie.source == ".data.rel.ro.gopclntab")
        #expect(stripped.source == ".gopclntab")
        let names = Set(normal.functions.map(\.name))
        #expect(Set(stripped.functions.map(\.name)) == names)
        #expect(Set(pie.functions.map(\.name)) == names)

        for (elf, table) in [(normalELF, normal), (strippedELF, stripped), (pieELF, pie)] {
            // Offsets checked two ways: the file bytes there are the bytes at the entry
            // through PT_LOAD, and they match the .text section's own offset.
            let text = try #require(elf.section(named: ".text"))
            for f in table.functions {
                #expect(f.fileOffset == f.entry - text.address + text.offset, "\(f.name)")
                let n = min(f.size, 16)
                let atOffset = Array(elf.bytes[Int(f.fileOffset)..<Int(f.fileOffset + n)])
                #expect(atOffset == elf.bytes(atVirtualAddress: f.entry, count: n).map(Array.init), "\(f.name)")
            }
        }
        // What we see for Go 1.19 PIE on amd64: linked at 0x400000 like the normal
        // build, so every offset is vaddr - 0x400000 (offset != vaddr).
        #expect(pieELF.header.type == 3, "PIE is ET_DYN")
        #expect(pie.functions.allSatisfy { $0.entry - $0.fileOffset == 0x400000 })
        #expect(normal.functions.allSatisfy { $0.entry - $0.fileOffset == 0x400000 })

        // -s -w leaves the code alone: same addresses and, for leaf assembly
        // functions (no data references that move with the shorter rodata), same bytes.
        #expect(stripped.functions == normal.functions)
        let identical = normal.functions.filter {
            normalELF.bytes(atVirtualAddress: $0.entry, count: $0.size).map(Array.init)
                == strippedELF.bytes(atVirtualAddress: $0.entry, count: $0.size).map(Array.init)
        }.count
        print("\(name): \(identical) of \(normal.functions.count) functions byte-identical in the -s -w build")
        #expect(identical * 2 > normal.functions.count)
        // Only code that reaches no data is byte-identical: RIP-relative references
        // into rodata move because rodata shrinks without the symbol names. Go 1.19
        // go-server: 2916 of 4909 functions are identical; the sample is some of them.
        let sample = ["internal/cpu.cpuid", "internal/bytealg.IndexByteString", "internal/bytealg.Compare",
                      "runtime.memequal", "runtime.cmpstring", "syscall.RawSyscall6", "runtime.memhash8", "runtime.f64hash"]
        for n in sample {
            let a = try #require(normal.function(named: n))
            let b = try #require(stripped.function(named: n))
            #expect(normalELF.bytes(atVirtualAddress: a.entry, count: a.size).map(Array.init)
                    == strippedELF.bytes(atVirtualAddress: b.entry, count: b.size).map(Array.init), "\(n)")
        }
    }

    /// Without section headers: the table is found by scanning; Go 1.26-style
    /// textStart = 0 is resolved from the runtime's module data (GoModuleData),
    /// with and without section headers.
    @Test(arguments: ["go-server", "go-server-stripped", "go-server-pie"])
    func fallbacks(_ name: String) throws {
        guard GoFixtures.available() else { return }
        let path = GoFixtures.path(name)
        let reference = try GoFunctionTable.load(path: path)
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let bare = GoFixtures.withoutSectionHeaders(original)
        let scanned = try GoFunctionTable.load(from: ELFFile(bytes: bare))
        #expect(scanned.source == "scan")
        #expect(scanned.functions == reference.functions)

        // Zero the header's textStart (8 + 2*8) as Go 1.26 does.
        let elf = try ELFFile(path: path)
        let pcln = try #require(elf.section(named: ".gopclntab") ?? elf.section(named: ".data.rel.ro.gopclntab"))
        var zeroed = original
        for i in 0..<8 { zeroed[Int(pcln.offset) + 24 + i] = 0 }
        let viaModuleData = try GoFunctionTable.load(from: ELFFile(bytes: zeroed))
        #expect(viaModuleData.functions == reference.functions)
        #expect(viaModuleData.textStart == 0x401000)
        #expect(viaModuleData.textStartSource.hasPrefix("module data at 0x"))
        let bareZeroed = try GoFunctionTable.load(from: ELFFile(bytes: GoFixtures.withoutSectionHeaders(zeroed)))
        #expect(bareZeroed.source == "scan")
        #expect(bareZeroed.functions == reference.functions)
        // The module data's pclntab pointer zeroed: in PIE the R_X86_64_RELATIVE addend
        // for that word still names it; otherwise the base is unknown, which is an
        // error, not a guess from .text or the entry point.
        let md = try #require(viaModuleData.textStartSource.split(separator: " ").last.flatMap { UInt64($0.dropFirst(2), radix: 16) })
        let mdOffset = try #require(elf.fileOffset(forVirtualAddress: md))
        var noModuleData = zeroed
        for i in 0..<8 { noModuleData[Int(mdOffset) + i] = 0 }
        if elf.header.type == 3 {
            #expect(try GoFunctionTable.load(from: ELFFile(bytes: noModuleData)).functions == reference.functions)
        } else {
            do {
                _ = try GoFunctionTable.load(from: ELFFile(bytes: noModuleData))
                Issue.record("\(name): loaded without module data")
            } catch {
                #expect("\(error)".contains("cannot establish where the Go text starts"), "\(error)")
            }
        }
        // The bytes-level parser refuses to guess.
        #expect(throws: GoRuntimeError.self) { try GoPCLNTab.parse(Array(try elf.rawData(pcln)).withZeroTextStart()) }
    }

    @Test func lookups() throws {
        guard GoFixtures.available() else { return }
        let table = try GoFunctionTable.load(path: GoFixtures.path("go-server-stripped"))
        let serve = try #require(table.function(named: "net/http.(*conn).serve"))
        #expect(table.function(containing: serve.entry) == serve)
        #expect(table.function(containing: serve.end - 1) == serve)
        #expect(table.function(containing: serve.end) != serve)
        #expect(table.function(containing: 0x1000) == nil)
        #expect(table.function(named: "runtime.memmove.abi0") == table.function(named: "runtime.memmove"))
        #expect(table.function(named: "main.main") != nil)
        #expect(table.function(named: "example.com/greet.Value") != nil)
        #expect(table.function(named: "no.such.function") == nil)
        #expect(table.header.layout == .go118)
        #expect(table.header.ptrSize == 8 && table.header.minLC == 1)
        #expect(table.header.nfunc == UInt64(table.functions.count))
    }

    /// Truncations at every header field and table boundary throw; random
    /// garbage and corruptions never trap.
    @Test func truncatedAndGarbage() throws {
        guard GoFixtures.available() else { return }
        let elf = try Self.elf("go-server")
        let full = Array(try elf.rawData(try #require(elf.section(named: ".gopclntab"))))
        let h = try GoPCLNTab.parse(full).header
        let functabEnd = Int(h.pclnOffset + (h.nfunc + 1) * 8)
        var cuts = Set(0...Int(h.size))
        for o in [h.funcnameOffset, h.cuOffset, h.filetabOffset, h.pctabOffset, h.pclnOffset] {
            for d in -1...1 { cuts.insert(Int(o) + d) }
        }
        for k in [0, 1, 2, Int(h.nfunc) / 2, Int(h.nfunc) - 1, Int(h.nfunc)] { cuts.insert(Int(h.pclnOffset) + 8 * k + 4) }
        cuts.insert(functabEnd - 1)
        for length in cuts.sorted() where length < functabEnd {
            #expect(throws: GoRuntimeError.self, "length \(length)") { try GoPCLNTab.parse(Array(full[..<length])) }
        }
        var rng = GoFixtures.SeededRNG(seed: 0x9C17)
        // Cuts inside the _func structs after the functab: either error or a table, never a trap.
        for _ in 0..<50 {
            _ = try? GoPCLNTab.parse(Array(full[..<Int.random(in: functabEnd..<full.count, using: &rng)]))
        }
        var parsed = 0
        for i in 0..<3000 {
            var b: [UInt8]
            switch i % 3 {
            case 0:
                b = (0..<Int.random(in: 0..<400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1: // a plausible header start, garbage after
                b = [[0xf0, 0xf1, 0xfa, 0xfb].randomElement(using: &rng)!, 0xff, 0xff, 0xff, 0, 0,
                     [1, 2, 4].randomElement(using: &rng)!, [4, 8].randomElement(using: &rng)!]
                    + (0..<Int.random(in: 0..<400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            default: // the real table with header or functab bytes flipped
                b = full
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let at = Bool.random(using: &rng) ? Int.random(in: 8..<Int(h.size), using: &rng)
                        : Int.random(in: Int(h.pclnOffset)..<functabEnd, using: &rng)
                    b[at] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            if (try? GoPCLNTab.parse(b, textStart: 0x401000)) != nil { parsed += 1 }
        }
        print("pclntab garbage: 3000 inputs, \(parsed) parsed without error, none trapped")
    }

    @Test func loadTime() throws {
        guard GoFixtures.available() else { return }
        let elf = try Self.elf("go-server")
        var best = Duration.seconds(100)
        var count = 0
        for _ in 0..<5 {
            let d = try ContinuousClock().measure { count = try GoFunctionTable.load(from: elf).functions.count }
            best = min(best, d)
        }
        print("go-server: GoFunctionTable.load of \(count) functions, best of 5: \(best)")
        #expect(best < .seconds(1))
    }
}

extension Array where Element == UInt8 {
    /// A 1.18+ pclntab with textStart (header word 2) zeroed.
    func withZeroTextStart() -> [UInt8] {
        var b = self
        for i in 24..<32 { b[i] = 0 }
        return b
    }
}

/// Hand-built tables for the layouts no local toolchain writes (Go 1.19 is
/// the only Go here): 1.2, 1.16 and 1.20+, laid out as the table in
/// GoPCLNTab's doc comment describes.
@Suite struct GoPCLNTabLayoutTests {
    static let names = ["main.main", "runtime.memmove", "main.main"]
    static let pcs: [UInt64] = [0x401000, 0x401040, 0x4010a0, 0x4010c0]  // last: end of the last function
    static let funcIDs: [UInt8] = [0, 0, 21]

    static func le(_ v: UInt64, _ size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func build(_ layout: GoPCLNTab.Layout, textStart: UInt64 = 0x401000) -> [UInt8] {
        let ptr = 8
        let headerWords: Int = switch layout { case .go12: 1; case .go116: 7; default: 8 }
        let headerSize = 8 + headerWords * ptr
        var nameTab: [UInt8] = []
        var nameOffs: [Int] = []
        for n in names { nameOffs.append(nameTab.count); nameTab += Array(n.utf8) + [0] }
        let offsets = layout == .go118 || layout == .go120
        let field = offsets ? 4 : ptr
        let funcnameOffset = headerSize
        let pclnOffset = funcnameOffset + nameTab.count
        let functabSize = (names.count + 1) * 2 * field
        let funcSize = field + 4 * 12
        let funcIDAt = layout == .go120 ? field + 36 : field + 32
        // _func structs follow the functab; funcoff is from the functab (from the table for 1.2).
        let funcBase = layout == .go12 ? 0 : pclnOffset
        var functab: [UInt8] = []
        var funcs: [UInt8] = []
        for i in 0..<names.count {
            let pc = offsets ? pcs[i] - textStart : pcs[i]
            let funcAt = pclnOffset + functabSize + funcs.count
            functab += le(pc, field) + le(UInt64(funcAt - funcBase), field)
            var f = [UInt8](repeating: 0, count: funcSize)
            f.replaceSubrange(0..<field, with: le(pc, field))
            let nameOff = layout == .go12 ? funcnameOffset + nameOffs[i] : nameOffs[i]
            f.replaceSubrange(field..<(field + 4), with: le(UInt64(nameOff), 4))
            f[funcIDAt] = funcIDs[i]
            funcs += f
        }
        functab += le(offsets ? pcs.last! - textStart : pcs.last!, field)
        functab += [UInt8](repeating: 0, count: field)
        var header: [UInt8] = le(UInt64(layout.magic), 4) + [0, 0, 1, UInt8(ptr)] + le(UInt64(names.count), ptr)
        switch layout {
        case .go12: break
        case .go116:
            header += le(0, ptr) + [funcnameOffset, pclnOffset, pclnOffset, pclnOffset, pclnOffset].flatMap { le(UInt64($0), ptr) }
        case .go118, .go120:
            header += le(0, ptr) + le(textStart, ptr)
                + [funcnameOffset, pclnOffset, pclnOffset, pclnOffset, pclnOffset].flatMap { le(UInt64($0), ptr) }
        }
        precondition(header.count == headerSize)
        // For 1.2 the functab must follow the header directly: put names after the _funcs.
        if layout == .go12 {
            var t = header
            let funcStart = headerSize + functabSize
            var ft: [UInt8] = []
            var fs: [UInt8] = []
            let nameStart = funcStart + funcs.count
            for i in 0..<names.count {
                ft += le(pcs[i], ptr) + le(UInt64(funcStart + fs.count), ptr)
                var f = [UInt8](repeating: 0, count: funcSize)
                f.replaceSubrange(0..<ptr, with: le(pcs[i], ptr))
                f.replaceSubrange(ptr..<(ptr + 4), with: le(UInt64(nameStart + nameOffs[i]), 4))
                fs += f
            }
            ft += le(pcs.last!, ptr) + le(0, ptr)
            t += ft + fs + nameTab
            return t
        }
        return header + nameTab + functab + funcs
    }

    @Test(arguments: [GoPCLNTab.Layout.go12, .go116, .go118, .go120])
    func layout(_ layout: GoPCLNTab.Layout) throws {
        let bytes = Self.build(layout)
        let t = try GoPCLNTab.parse(bytes)
        #expect(t.header.layout == layout)
        #expect(t.header.nfunc == 3)
        #expect(t.functions.map(\.name) == Self.names)
        #expect(t.functions.map(\.entry) == Array(Self.pcs.dropLast()))
        #expect(t.functions.map(\.end) == Array(Self.pcs.dropFirst()))
        if layout != .go12 {
            #expect(t.functions.map(\.funcID) == Self.funcIDs)
        }
        // Cut anywhere up to the end of the functab: an error. Cut inside the _func
        // structs after it: an error, or (once each name field is there) the same
        // functions, with funcID 0 where it was cut off.
        let h = t.header
        let field: UInt64 = layout == .go118 || layout == .go120 ? 4 : 8
        let functabEnd = Int(h.pclnOffset + (h.nfunc + 1) * 2 * field)
        for n in 0..<bytes.count {
            if n < functabEnd {
                #expect(throws: GoRuntimeError.self, "\(layout) cut at \(n)") { try GoPCLNTab.parse(Array(bytes[..<n])) }
            } else if let cut = try? GoPCLNTab.parse(Array(bytes[..<n])) {
                #expect(cut.functions.map(\.name) == Self.names && cut.functions.map(\.entry) == t.functions.map(\.entry))
            }
        }
    }

    /// Go 1.26 writes textStart = 0: the caller supplies the base.
    @Test func zeroTextStart() throws {
        #expect(throws: GoRuntimeError.self) { try GoPCLNTab.parse(Self.build(.go120).withZeroTextStart()) }
        let t = try GoPCLNTab.parse(Self.build(.go120).withZeroTextStart(), textStart: 0x401000)
        #expect(t.functions.map(\.entry) == Array(Self.pcs.dropLast()))
        #expect(t.textStart == 0x401000)
    }
}
