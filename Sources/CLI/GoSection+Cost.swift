import Families
import GoRuntime

/// The uprobe cost part of `symbols dump`'s Go section: for every probe site
/// listed (function entries and RETs), the instruction there and how the kernel
/// handles a uprobe on it (`UprobeCost`), plus the cheapest exact entry site.
/// Where no emulated site exists it says so, in `reason` and `ret_note`.
extension GoSection {
    /// The kernel release whose rules classified the sites (the running one).
    var costRules: KernelRelease? { sites.lazy.compactMap { $0.entryInstruction?.kernel }.first }

    static func noCheapReturnNote(_ site: GoBinary.ProbeSite) -> String? {
        guard !site.returnInstructions.isEmpty, !site.returnInstructions.contains(where: { $0.cost.isCheap }) else { return nil }
        return "no emulated RET site: every RET is single-stepped (a cheaper end needs the entry of the function that runs next)"
    }

    func writeCosts(_ site: GoBinary.ProbeSite, to w: inout JSONWriter) {
        if let i = site.entryInstruction {
            w.beginObject("entry_instruction")
            Self.write(i, to: &w)
            w.endObject()
        }
        if let e = site.cheapEntry {
            w.beginObject("cheap_entry")
            w.int("file_offset", e.fileOffset)
            w.int("distance", UInt64(e.distance))
            Self.write(e.instruction, to: &w)
            w.string("kind", e.kind.rawValue)
            w.bool("may_repeat", e.mayRepeat)
            w.string("reason", e.reason)
            w.endObject()
        }
        if !site.returnInstructions.isEmpty {
            w.beginArray("ret_sites")
            for (offset, i) in zip(site.returnOffsets, site.returnInstructions) {
                w.beginObject()
                w.int("file_offset", offset)
                Self.write(i, to: &w)
                w.endObject()
            }
            w.endArray()
        }
        w.string("ret_note", Self.noCheapReturnNote(site))
    }

    fileprivate static func write(_ i: ProbeInstruction, to w: inout JSONWriter) {
        w.string("instruction", i.text)
        w.int("length", UInt64(i.length))
        w.string("cost", i.cost.rawValue)
    }

    func printCosts(_ site: GoBinary.ProbeSite, to out: Output) {
        if let i = site.entryInstruction {
            out.line("    entry instruction: \(i.text)  [\(i.cost.rawValue)]")
        }
        if let e = site.cheapEntry {
            out.line("    cheap entry: file offset \(hex(e.fileOffset)) (+\(e.distance))  \(e.instruction.text)  [\(e.cost.rawValue)]  \(e.reason)")
        }
        if !site.returnInstructions.isEmpty {
            let rets = zip(site.returnOffsets, site.returnInstructions).map { "\(hex($0)) \($1.text) [\($1.cost.rawValue)]" }
            out.line("    RET sites: " + rets.joined(separator: ", "))
        }
        if let note = Self.noCheapReturnNote(site) { out.line("    note: \(note)") }
    }
}

/// The sites `--go-http` actually attaches (GoHTTPPlan): per uprobe its program,
/// function, file offset, instruction and cost class, so the dump and the
/// "attached N probes" line agree.
extension GoSection {
    func writePlan(to w: inout JSONWriter) {
        writeGRPCPlan(to: &w)
        guard case .success(let plan) = plan else {
            if case .failure(let e) = plan { w.string("go_http_probes_error", String(describing: e)) }
            return
        }
        w.beginArray("go_http_probes")
        for p in plan.placed {
            w.beginObject()
            w.string("program", p.site.program.rawValue)
            w.string("function", p.function)
            w.int("file_offset", p.site.fileOffset)
            w.string("site", p.entry?.kind.rawValue ?? (p.instruction?.text.hasPrefix("call") == true ? "call" : "ret"))
            if let i = p.instruction { Self.write(i, to: &w) }
            w.endObject()
        }
        w.endArray()
    }

    func printPlan(to out: Output) {
        printGRPCPlan(to: out)
        switch plan {
        case .failure(let e):
            out.line("go-http probes: none (\(e))")
        case .success(let plan):
            let slow = plan.placed.filter { $0.instruction?.cost.isCheap == false }.count
            out.line("go-http probes (\(plan.placed.count), \(slow) single-stepped):")
            for p in plan.placed {
                let insn = p.instruction.map { "\($0.text)  [\($0.cost.rawValue)]" } ?? "?"
                out.line("  " + pad(p.site.program.rawValue, 22) + " " + lpad(hex(p.site.fileOffset), 10) + "  "
                         + pad(p.function, 38) + " " + pad(p.entry?.kind.rawValue ?? (p.instruction?.text.hasPrefix("call") == true ? "call" : "ret"), 19) + " " + insn)
            }
        }
    }
}

/// The same for `--go-grpc` (GoGRPCPlan); nothing for a program without grpc-go.
extension GoSection {
    private var grpcPlaced: [GoHTTPPlan.PlacedSite]? {
        switch grpcPlan {
        case .success(let plan)?: return plan.placed
        default: return nil
        }
    }

    /// The error line when the program has grpc-go but cannot be traced (not for "no grpc-go here").
    private var grpcError: String? {
        guard case .failure(let e)? = grpcPlan else { return nil }
        if case FamilyError.notApplicable = e { return nil }
        return String(describing: e)
    }

    func writeGRPCPlan(to w: inout JSONWriter) {
        if let e = grpcError { w.string("go_grpc_probes_error", e) }
        guard let placed = grpcPlaced else { return }
        w.beginArray("go_grpc_probes")
        for p in placed {
            w.beginObject()
            w.string("program", p.site.program.rawValue)
            w.string("function", p.function)
            w.int("file_offset", p.site.fileOffset)
            w.string("site", p.entry?.kind.rawValue ?? "ret")
            if let i = p.instruction { Self.write(i, to: &w) }
            w.endObject()
        }
        w.endArray()
    }

    func printGRPCPlan(to out: Output) {
        if let e = grpcError { out.line("go-grpc probes: none (\(e))") }
        guard let placed = grpcPlaced else { return }
        let slow = placed.filter { $0.instruction?.cost.isCheap == false }.count
        out.line("go-grpc probes (\(placed.count), \(slow) single-stepped):")
        for p in placed {
            let insn = p.instruction.map { "\($0.text)  [\($0.cost.rawValue)]" } ?? "?"
            out.line("  " + pad(p.site.program.rawValue, 22) + " " + lpad(hex(p.site.fileOffset), 10) + "  "
                     + pad(p.function.replacingOccurrences(of: "google.golang.org/grpc", with: "grpc"), 38) + " "
                     + pad(p.entry?.kind.rawValue ?? "ret", 19) + " " + insn)
        }
    }
}
