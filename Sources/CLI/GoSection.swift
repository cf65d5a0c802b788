import Families
import GoRuntime
import Symbols

/// The Go part of `symbols dump`: version, modules, probe sites, struct offsets.
struct GoSection {
    let binary: GoBinary
    let sites: [GoBinary.ProbeSite]
    /// The uprobes `--go-http` attaches to this file, or why it attaches none.
    let plan: Result<GoHTTPPlan, Error>
    /// The uprobes `--go-grpc` attaches, or why it attaches none.
    var grpcPlan: Result<GoGRPCPlan, Error>? = nil

    /// Nil for objects that are not Go.
    static func load(_ elf: ELFFile) throws -> GoSection? {
        guard GoBinary.isGo(elf) else { return nil }
        let binary = try GoBinary.load(elf)
        let plan = Result { try GoHTTPPlan(elf: elf, attachPath: elf.path, displayPath: elf.path, pid: nil) }
        let grpcPlan = Result { try GoGRPCPlan(elf: elf, attachPath: elf.path, displayPath: elf.path, pid: nil) }
        return GoSection(binary: binary, sites: try binary.probeSites(elf), plan: plan, grpcPlan: grpcPlan)
    }

    private var modules: [GoModule] { (binary.buildInfo.main.map { [$0] } ?? []) + binary.buildInfo.deps }

    private var offsets: [(name: String, offset: ResolvedOffset, arm64: String?)] {
        guard let o = binary.offsets else { return [] }
        let minor = Self.goMinor(binary.buildInfo.goVersion)
        return GoField.all.compactMap { f in
            o.offset(of: f).map { r in
                // For a table row: whether linux/arm64 would have the same offset (on paper).
                let arm64 = r.source == .table ? minor.flatMap { GoOffsetTable.entry(for: f, goMinor: $0)?.arm64 } : nil
                return (f.description, r, arm64)
            }
        }
    }

    /// `go1.27.3` → 27.
    private static func goMinor(_ version: String) -> Int? {
        guard let r = version.firstRange(of: "go1.") else { return nil }
        return Int(version[r.upperBound...].prefix { $0.isASCII && $0.isNumber })
    }

    func write(to w: inout JSONWriter, allFunctions: Bool) {
        let info = binary.buildInfo
        w.beginObject("go")
        w.string("version", info.goVersion)
        w.string("path", info.path)
        w.beginArray("modules")
        for m in modules {
            w.beginObject()
            w.string("path", m.path)
            w.string("version", m.version)
            w.string("sum", m.sum.isEmpty ? nil : m.sum)
            if let r = m.replacement {
                w.beginObject("replace")
                w.string("path", r.path)
                w.string("version", r.version)
                w.endObject()
            }
            w.endObject()
        }
        w.endArray()
        w.beginObject("settings")
        for s in info.settings { w.string(s.key, s.value) }
        w.endObject()
        w.string("functions_source", binary.functions.source)
        w.string("uprobe_cost_rules", costRules.map { "Linux \($0)" })
        w.beginArray("functions")
        for site in sites {
            w.beginObject()
            w.string("name", site.function.name)
            w.int("entry", site.function.entry)
            w.int("file_offset", site.function.fileOffset)
            w.int("end", site.function.end)
            w.beginArray("ret_offsets")
            for r in site.returnOffsets { w.int(nil, r) }
            w.endArray()
            writeCosts(site, to: &w)
            w.endObject()
        }
        w.endArray()
        writePlan(to: &w)
        w.beginObject("offsets")
        for (name, o, arm64) in offsets {
            w.beginObject(name)
            w.int("offset", o.offset)
            w.string("source", o.source.rawValue)
            w.string("provenance", o.provenance)
            w.bool("verified", o.verified)
            w.string("arm64", arm64)
            w.endObject()
        }
        w.endObject()
        if let note = binary.offsets?.note { w.string("offsets_note", note) }
        if let e = binary.offsetsError { w.string("offsets_error", e.description) }
        if allFunctions {
            w.beginArray("all_functions")
            for f in binary.functions.functions {
                w.beginObject()
                w.string("name", f.name)
                w.int("entry", f.entry)
                w.int("end", f.end)
                w.int("file_offset", f.fileOffset)
                w.endObject()
            }
            w.endArray()
        }
        w.endObject()
    }

    func print(to out: Output, allFunctions: Bool) {
        let info = binary.buildInfo
        out.line("go: \(info.goVersion), \(binary.functions.functions.count) functions (from \(binary.functions.source))")
        for m in modules {
            out.line("  module \(m.path) \(m.version)" + (m.replacement.map { " => \($0.path) \($0.version)" } ?? ""))
        }
        out.line("probe functions:" + (costRules.map { " (uprobe cost classes by Linux \($0) rules)" } ?? ""))
        for site in sites {
            out.line("  \(site.function.name)  entry \(hex(site.function.entry))  file offset \(hex(site.function.fileOffset))")
            out.line("    RET file offsets (\(site.returnOffsets.count)): " + site.returnOffsets.map(hex).joined(separator: " "))
            printCosts(site, to: out)
        }
        printPlan(to: out)
        out.line("struct offsets:")
        // A table row is "verified" when a real build of this Go version was checked
        // against it (GoOffsetTable.verifiedMinors); otherwise it is from the source only.
        for (name, o, _) in offsets {
            let how = o.source == .dwarf ? "dwarf" : o.verified ? "table, verified" : "table, from source only"
            out.line("  " + pad(name, 36) + lpad(String(o.offset), 5) + "  " + how
                     + (o.source == .table ? "  (\(o.provenance))" : ""))
        }
        let arm64 = offsets.compactMap { $0.arm64 == nil ? nil : ($0.name, $0.arm64!) }
        if !arm64.isEmpty {
            let differ = arm64.filter { !$0.1.hasPrefix("same") }.map(\.0)
            out.line("  arm64 (on paper, no arm64 build checked): " + (differ.isEmpty ? "every table row above would be the same" : "would differ: " + differ.joined(separator: ", ")))
        }
        if let note = binary.offsets?.note { out.line("  note: \(note)") }
        if let e = binary.offsetsError { out.line("  unavailable: \(e.description)") }
        if allFunctions {
            out.line("all Go functions:")
            out.line(pad("NAME", 60) + "  " + lpad("ENTRY", 18) + "  " + lpad("END", 18) + "  " + lpad("FILE OFFSET", 12))
            for f in binary.functions.functions {
                out.line(pad(f.name, 60) + "  " + lpad(hex(f.entry), 18) + "  " + lpad(hex(f.end), 18) + "  " + lpad(hex(f.fileOffset), 12))
            }
        }
        out.line("")
    }
}
