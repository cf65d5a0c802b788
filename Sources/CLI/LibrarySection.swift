import Families
import GoRuntime
import JSONOutput
import Symbols

/// The library part of `symbols dump`: for each function a library family
/// (`--ssl`, `--mysql`) probes, the site its entry probe takes, the
/// instruction there and its cost class, and why that site.
struct LibrarySection {
    let sites: [LibraryProbeSite]

    /// nil when the object defines none of the functions the families probe.
    static func load(_ elf: ELFFile) -> LibrarySection? {
        let sites = LibraryProbeSite.sites(in: elf)
        return sites.isEmpty ? nil : LibrarySection(sites: sites)
    }

    func write(to w: inout JSONWriter) {
        w.beginArray("library_probe_sites")
        for s in sites {
            w.beginObject()
            w.string("family", s.flag)
            w.string("function", s.function)
            w.int("entry_offset", s.entryOffset)
            w.int("site_offset", s.siteOffset)
            w.string("instruction", s.instruction?.text)
            w.string("cost", s.instruction?.cost.rawValue)
            w.string("reason", s.reason)
            w.endObject()
        }
        w.endArray()
    }

    func print(to out: Output) {
        out.line("library probe sites (entry probe; the return is a uretprobe there):")
        for s in sites {
            let insn = s.instruction.map { "\($0.text)  [\($0.cost.rawValue)]" } ?? "(does not decode)"
            out.line("  --\(s.flag) \(s.function) (entry \(hex(s.entryOffset))): site \(hex(s.siteOffset))  \(insn)  \(s.reason)")
        }
    }
}
