import Foundation
@testable import GoRuntime
import Symbols
import Testing

/// Every toolchain of the fixture matrix (GoMatrix), checked against that
/// toolchain's own ground truth: DWARF for struct offsets, `go tool nm` for the
/// function table, `objdump -d` for RET sites, `runtime.text` for the text start.
/// Serialized: one fixture at a time keeps this suite to about one core, so the
/// process-driving suites that `make test` runs beside it keep theirs.
@Suite(.serialized) struct GoMatrixTests {
    /// Fields a program has no DWARF for, because the linker dropped the code that
    /// uses them (a server makes no client requests).
    static let absentFrom: [String: Set<String>] = [
        "server": ["net/http.Response", "net/http.persistConn"],
        "client": ["net/http.response", "net/http.conn"],
    ]

    /// The offset table equals DWARF, for every field the probes read, and the
    /// stripped builds of that version get exactly those offsets from the table.
    @Test(arguments: GoMatrix.expected)
    func offsetTableEqualsDWARF(_ t: GoMatrix.Toolchain) throws {
        guard GoMatrix.available(t) else { return }
        var checked: Set<GoField> = []
        for program in ["server", "client"] {
            let path = t.path("normal", program)
            let version = try GoBuildInfo.load(path: path).goVersion
            let dwarf = try #require(try DWARFTypes.load(path: path, structs: GoField.structNames), "\(path) has DWARF")
            let offsets = try GoStructOffsets.resolve(goVersion: version, dwarf: dwarf, path: path)
            for field in GoField.all where !Self.absentFrom[program]!.contains(field.structName) && field.exists(inGoMinor: t.minorNumber) {
                let got = try #require(offsets.offset(of: field), "\(t) \(program): \(field) not in DWARF")
                #expect(got.source == .dwarf, "\(t) \(program): \(field)")
                let row = GoOffsetTable.entry(for: field, goMinor: t.minorNumber)
                #expect(row?.offset == got.offset,
                        "\(t) \(field): DWARF \(got.offset), table \(row.map { String($0.offset) } ?? "none")")
                checked.insert(field)
            }
            for variant in t.variants where variant.contains("stripped") {
                let stripped = try GoStructOffsets.load(path: t.path(variant, program), goVersion: version)
                for field in GoField.all where !Self.absentFrom[program]!.contains(field.structName) && field.exists(inGoMinor: t.minorNumber) {
                    let got = stripped.offset(of: field)
                    #expect(got?.source == .table, "\(t) \(variant) \(program): \(field)")
                    #expect(got?.verified == true, "\(t) \(variant) \(program): \(field) verified")
                    #expect(got?.offset == offsets.offset(of: field)?.offset, "\(t) \(variant) \(program): \(field)")
                }
            }
        }
        let expected = Set(GoField.all.filter { $0.exists(inGoMinor: t.minorNumber) })
        #expect(checked == expected, "fields never compared: \(expected.subtracting(checked))")
        #expect(GoOffsetTable.verifiedMinors.contains(t.minorNumber), "\(t) is checked here: add it to verifiedMinors")
    }

    /// `verifiedMinors` claims exactly the versions this suite builds.
    @Test func verifiedMinorsAreTheBuiltToolchains() {
        #expect(GoOffsetTable.verifiedMinors == Set(GoMatrix.expected.map(\.minorNumber)))
        // What stays unchecked: the releases no toolchain here builds.
        let unchecked = Set(GoOffsetTable.entries.flatMap(\.fromSourceOnly))
        #expect(unchecked == [17, 18, 20], "\(unchecked.sorted())")
    }

    /// Every fixture says in its build info which toolchain built it.
    @Test(arguments: GoMatrix.expected)
    func buildInfoNamesTheToolchain(_ t: GoMatrix.Toolchain) throws {
        guard GoMatrix.available(t) else { return }
        for variant in t.variants {
            for program in ["server", "client"] {
                let v = try GoBuildInfo.load(path: t.path(variant, program)).goVersion
                #expect(v == t.pinned || (t.minor == "1.19" && v.hasPrefix("go1.19.")), "\(t) \(variant): \(v)")
            }
        }
    }

    /// pclntab functions == `go tool nm` of the same Go version (builds with .symtab).
    @Test(arguments: GoMatrix.expected)
    func pclntabEqualsGoToolNm(_ t: GoMatrix.Toolchain) throws {
        guard GoMatrix.available(t) else { return }
        for variant in t.variants where !variant.contains("stripped") {
            for program in ["server", "client"] {
                let path = t.path(variant, program)
                let table = try GoFunctionTable.load(path: path)
                let (status, out) = GoMatrix.go(t, ["tool", "nm", "-size", "-sort", "address", path])
                try #require(status == 0, "go tool nm: \(out)")
                var nm: Set<String> = []
                for line in out.split(separator: "\n") {
                    let f = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                    guard f.count == 4, f[2] == "T" || f[2] == "t", f[3] != "runtime.text", f[3] != "runtime.etext" else { continue }
                    nm.insert("\(GoPCLNTabTests.pclntabSpelling(String(f[3])))@\(f[0].drop { $0 == "0" })")
                }
                // Go 1.21+ pclntabs spell generic instantiations in full like nm does, older
                // ones shorten them to `[...]`: compare in the shortened spelling.
                let ours = Set(table.functions.map { "\(GoPCLNTabTests.pclntabSpelling($0.name))@\(String($0.entry, radix: 16))" })
                #expect(table.functions.count == nm.count, "\(t) \(variant) \(program)")
                #expect(nm.subtracting(ours).isEmpty, "\(t) \(variant) \(program) in go tool nm only: \(nm.subtracting(ours).sorted().prefix(10))")
                #expect(ours.subtracting(nm).isEmpty, "\(t) \(variant) \(program) in the pclntab only: \(ours.subtracting(nm).sorted().prefix(10))")
            }
        }
    }

    /// The text start equals `runtime.text` where there are symbols, the pclntab
    /// header where it has one (Go ≤ 1.25), and comes from the module data from
    /// Go 1.26 on every link mode; each probed function then starts with Go's
    /// stack-bound check, not in the middle of an instruction.
    @Test(arguments: GoMatrix.expected)
    func textStartFromModuleData(_ t: GoMatrix.Toolchain) throws {
        guard GoMatrix.available(t) else { return }
        for variant in t.variants {
            for program in ["server", "client"] {
                let path = t.path(variant, program)
                let elf = try ELFFile(path: path)
                let table = try GoFunctionTable.load(from: elf)
                // Each check is a named Bool so the per-fixture log line can say which failed.
                var failed: [String] = []
                func check(_ ok: Bool, _ what: String) {
                    #expect(ok, "\(t) \(variant) go-\(program): \(what)")
                    if !ok { failed.append(what) }
                }
                if t.minorNumber >= 26 {
                    check(table.header.textStart == 0, "pclntab header textStart is 0")
                    check(table.textStartSource.hasPrefix("module data at 0x"), "text start from the module data (\(table.textStartSource))")
                } else {
                    check(table.header.textStart == table.textStart, "text start from the header")
                    // The module data agrees with the header where both exist.
                    let md = try GoModuleData.locate(in: elf, expecting: .init(
                        pclntab: try #require(elf.section(named: table.source)).address, header: table.header,
                        firstOffset: table.functions.first!.entry - table.textStart,
                        lastOffset: table.functions.last!.end - table.textStart), section: table.source)
                    check(md.text == table.textStart, "module data text == header textStart")
                }
                if let text = try elf.symbols().first(where: { $0.name == "runtime.text" }) {
                    check(table.textStart == text.value, "text start == runtime.text")
                }
                if variant.hasPrefix("cgo") {
                    // The case the module data is for: C code precedes runtime.text.
                    check(try #require(elf.section(named: ".text")).address < table.textStart, ".text starts before the Go text")
                }
                let probed = program == "server" ? "net/http.serverHandler.ServeHTTP" : "net/http.(*Transport).roundTrip"
                let f = try #require(table.function(named: probed), "\(t) \(variant): \(probed)")
                let head = Array(try #require(elf.bytes(atVirtualAddress: f.entry, count: 16)))
                check(Self.startsWithStackCheck(head), "\(probed) starts with the stack check (\(head.map { String($0, radix: 16) }))")
                let rets = try returnSites(in: elf, function: f.entry, end: f.end, name: f.name)
                check(!rets.isEmpty, "\(probed) has RETs")
                print("go-matrix \(t) \(variant) go-\(program): \(failed.isEmpty ? "ok" : "FAILED \(failed)"): text 0x\(String(table.textStart, radix: 16)) from \(table.textStartSource), \(probed) at file offset 0x\(String(f.fileOffset, radix: 16)), \(rets.count) RET")
            }
        }
    }

    /// `cmp rsp, 16(r14)` (49 3b 66 10), or `lea r12, -N(rsp); cmp r12, 16(r14)` for big frames.
    static func startsWithStackCheck(_ b: [UInt8]) -> Bool {
        if b.starts(with: [0x49, 0x3B, 0x66, 0x10]) { return true }
        guard b.starts(with: [0x4C, 0x8D, 0x64, 0x24]) || b.starts(with: [0x4C, 0x8D, 0xA4, 0x24]) else { return false }
        let cmp = b[2] == 0x64 ? 5 : 8  // disp8 or disp32
        return Array(b[cmp..<cmp + 4]) == [0x4D, 0x3B, 0x66, 0x10]
    }

    /// RET sites == `objdump -d`, over every function of the server: by `.symtab`
    /// where there is one, by the pclntab in the stripped cgo builds (whose function
    /// addresses then depend on the text start).
    @Test(arguments: GoMatrix.expected)
    func returnSitesEqualObjdump(_ t: GoMatrix.Toolchain) throws {
        guard GoMatrix.available(t) else { return }
        for variant in t.variants where variant != "stripped" {
            let path = t.path(variant, "server")
            if variant.contains("stripped") {
                let table = try GoFunctionTable.load(path: path)
                try compareFunctionsWithObjdump(path, table.functions.map { ($0.name, $0.entry, $0.size) })
            } else {
                try compareWithObjdump(path, table: .symtab, dataInCode: isGoMarker)
            }
        }
    }
}

/// A Go newer than the offset table knows, made by rewriting the version in the
/// build info of the newest toolchain's server (same length, so nothing moves).
@Suite struct NewerGoTests {
    static let newer = "go1.\(GoOffsetTable.supportedMinors.upperBound + 1).0"

    /// A copy of `path` whose `.go.buildinfo` says `newer`.
    static func relabel(_ path: String, from old: String) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let s = try #require(try ELFFile(path: path).section(named: ".go.buildinfo"))
        let from = Array(old.utf8), to = Array(newer.utf8)
        try #require(from.count == to.count, "\(old) and \(newer) differ in length")
        let range = Int(s.offset)..<Int(s.offset + s.size)
        let at = try #require(range.first { Array(bytes[$0..<min($0 + from.count, range.upperBound)]) == from })
        bytes.replaceSubrange(at..<at + to.count, with: to)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("newer-go-\(getpid())-\(URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent)")
        try Data(bytes).write(to: out)
        return out.path
    }

    @Test func strippedIsRefusedWithTheVersionAndTheFix() throws {
        let t = try #require(GoMatrix.expected.last)
        guard GoMatrix.available(t) else { return }
        let path = try Self.relabel(t.path("stripped"), from: t.pinned)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let binary = try GoBinary.load(ELFFile(path: path))
        #expect(binary.buildInfo.goVersion == Self.newer)
        #expect(binary.offsets == nil)
        let message = try #require(binary.offsetsError).description
        #expect(message.contains(Self.newer), "\(message)")
        #expect(message.contains("hint: rebuild keeping DWARF") && message.contains("upgrade uprobe-trace"), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test func withDWARFItWorksWithANote() throws {
        let t = try #require(GoMatrix.expected.last)
        guard GoMatrix.available(t) else { return }
        let path = try Self.relabel(t.path("normal"), from: t.pinned)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let binary = try GoBinary.load(ELFFile(path: path))
        let offsets = try #require(binary.offsets, "\(String(describing: binary.offsetsError))")
        #expect(offsets.note?.contains(Self.newer) == true)
        #expect(offsets.offset(of: .goroutineID)?.source == .dwarf)
        #expect(offsets.offset(of: .requestMethod)?.source == .dwarf)
    }
}

/// Decodes each of `functions` (name, address, size) and compares its RET sites and
/// instruction starts with one `objdump -d` sweep of the file.
func compareFunctionsWithObjdump(_ path: String, _ functions: [(String, UInt64, UInt64)]) throws {
    guard FileManager.default.isExecutableFile(atPath: objdumpPath) else {
        try requireOrSkip("\(objdumpPath) not found (install binutils)")
        return
    }
    let elf = try ELFFile(path: path)
    let listing = ObjdumpListing(try run(objdumpPath, ["-d", "--no-show-raw-insn", path]))
    var mismatches: [String] = []
    var rets = 0
    for (name, entry, size) in functions {
        guard let code = elf.bytes(atVirtualAddress: entry, count: size),
              let offset = elf.fileOffset(forVirtualAddress: entry) else { mismatches.append("\(name): not file-backed"); continue }
        let ours: [UInt64]
        do {
            ours = try returnSites(code: code, startOffset: offset, path: path, function: name)
        } catch {
            if !isGoMarker(name) { mismatches.append("\(name): \(error)") }
            continue
        }
        let theirs = ObjdumpListing.slice(listing.returns, entry, entry + size).map { $0 - entry + offset }
        // objdump's sweep must have an instruction exactly at the entry.
        if ObjdumpListing.slice(listing.instructions, entry, entry + 1).isEmpty {
            mismatches.append("\(name): no instruction starts at its entry 0x\(String(entry, radix: 16))")
        } else if ours != theirs {
            mismatches.append("\(name): RETs ours \(ours.map { String($0, radix: 16) }) objdump \(theirs.map { String($0, radix: 16) })")
        }
        rets += ours.count
    }
    print("\(path): \(functions.count) pclntab functions, \(rets) RETs compared with objdump")
    for m in mismatches.prefix(10) { print("  mismatch: \(m)") }
    #expect(mismatches.isEmpty, "\(path): \(mismatches.count) functions differ from objdump, first: \(mismatches.first ?? "")")
    #expect(functions.count > 1000)
}
