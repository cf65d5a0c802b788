import Attach
import GoRuntime
import Symbols
import TraceEvents
import Tracing

/// PostgreSQL client statements through libpq (`postgres.bpf.c`): the four
/// PQsend* functions that start a statement (PQexec, PQexecParams, PQprepare
/// and PQexecPrepared call them too) and PQgetResult (entry + uretprobe), which
/// returns its results and then NULL. One CLIENT span per statement
/// (`PostgresTracker`). Cost on Debian's libpq 15: 7 probe hits per PQexec, all
/// emulated (see the BPF C); the send sites are chosen by `CArgumentSite`.
public enum PostgresFamily: ProbeFamily {
    public static let id = UT_FAMILY_POSTGRES
    public static let flag = "postgres"
    public static let traces = "PostgreSQL (libpq) client statements"

    /// The library names tried when none is given: what the process maps, else the host's.
    public static let defaultLibraries = ["libpq.so.5", "libpq.so"]
    /// PQgetResult: entry probe and uretprobe.
    public static let getResult = "PQgetResult"
    /// The functions that send a statement, and the argument registers their probe reads.
    public static let sendFunctions: [(name: String, arguments: [Int])] = {
        let r = ForwardedCall.self
        return [("PQsendQuery", [r.rdi, r.rsi]),
                ("PQsendQueryParams", [r.rdi, r.rsi, r.rdx]),
                ("PQsendPrepare", [r.rdi, r.rsi, r.rdx, r.rcx]),
                ("PQsendQueryPrepared", [r.rdi, r.rsi, r.rdx])]
    }()
    /// Every function the family needs the offset of.
    public static var functions: [String] { sendFunctions.map(\.name) + [getResult] }

    /// One probe placement: where the function's entry probe sits and why.
    public struct Site: Sendable, Hashable {
        public let function: String
        public let entryOffset: UInt64
        public let siteOffset: UInt64
        public let instruction: ProbeInstruction?
        public let reason: String
    }

    /// Where each traced function's entry probe goes in `elf` (PQgetResult's
    /// uretprobe always sits at its entry).
    public static func sites(in elf: ELFFile, kernel: KernelRelease? = nil, entrySites: Bool = false) -> [Site] {
        var out: [Site] = []
        for (name, arguments) in sendFunctions + [(getResult, [ForwardedCall.rdi])] {
            guard let sym = (try? elf.lookup(name))?.first(where: { $0.isFunction }), let off = elf.fileOffset(of: sym) else { continue }
            let bytes = elf.bytes
            guard off < UInt64(bytes.count) else { continue }
            let end = min(bytes.count, Int(off) + Int(max(sym.size, 16)))
            let code = UnsafeRawBufferPointer(rebasing: bytes[Int(off) ..< end])
            let entry = ProbeInstruction(code: code, at: 0, fileOffset: off, kernel: kernel)
            if name != getResult, !entrySites,
               let site = CArgumentSite.find(code: code, startOffset: off, preserving: arguments, kernel: kernel) {
                let reason = site.index == 0 ? "entry: \(site.instruction.text) is \(site.instruction.cost.rawValue)"
                    : "entry+\(site.index): \(site.instruction.text) is \(site.instruction.cost.rawValue); the \(entry?.text ?? "?") before it leaves the arguments as passed"
                out.append(Site(function: name, entryOffset: off, siteOffset: off + UInt64(site.index), instruction: site.instruction, reason: reason))
            } else {
                let reason = entrySites ? "entry: asked for (\(TraceOptions.entrySitesVariable)=1)"
                    : entry.map { $0.cost.isCheap ? "entry: \($0.text) is \($0.cost.rawValue)" : "entry, single-stepped: no emulated site with the arguments intact" }
                    ?? "entry: the first instruction does not decode"
                out.append(Site(function: name, entryOffset: off, siteOffset: off, instruction: entry, reason: reason))
            }
        }
        return out
    }

    /// The struct offsets the probes read, decoded from `elf`'s accessors.
    public static func layout(of elf: ELFFile) -> PostgresLayout {
        PostgresLayout { name in
            guard let sym = (try? elf.lookup(name))?.first(where: { $0.isFunction }), let off = elf.fileOffset(of: sym),
                  off < UInt64(elf.bytes.count) else { return nil }
            let bytes = elf.bytes
            return UnsafeRawBufferPointer(rebasing: bytes[Int(off) ..< min(bytes.count, Int(off) + 128)])
        }
    }

    public static func plan(_ target: TraceTarget, spec: String?, options: TraceOptions) throws -> FamilyPlan {
        let lib = try LibraryPlan.resolve(spec: spec, defaultNames: defaultLibraries, pid: target.pid,
                                          functions: functions, flag: flag)
        let missing = functions.filter { lib.offsets[$0] == nil }
        guard missing.isEmpty else {
            throw FamilyError.missingFunctions(library: lib.displayPath, functions: missing, flag: flag)
        }
        let p = postgres_bpf.progs.self
        let programs = ["PQsendQuery": p.pg_send_query, "PQsendQueryParams": p.pg_send_query_params,
                        "PQsendPrepare": p.pg_send_prepare, "PQsendQueryPrepared": p.pg_send_query_prepared,
                        getResult: p.pg_get_result_entry]
        let placed = sites(in: lib.file, entrySites: options.entrySites)
        var request: [UprobeSite] = placed.map { UprobeSite(programs[$0.function]!, $0.siteOffset) }
        request.append(UprobeSite(p.pg_get_result_return, lib.offsets[getResult]!, retprobe: true))
        let layout = layout(of: lib.file)
        var config = ut_config()
        config.capture_bytes = options.captureBytes
        config.pg = layout.config
        var notes = placed.filter { $0.instruction?.cost.isCheap != true }.map { "--postgres: \($0.function) \($0.reason)" }
        notes += layout.notes
        return FamilyPlan(family: id, request: ProbeRequest(object: postgres_bpf.object, path: lib.attachPath, pid: lib.pid,
                                                            config: config, sites: request),
                          displayPath: lib.displayPath, summary: "\(lib.summary): \(functions.joined(separator: ", "))", notes: notes)
    }

    public static func makeDecoder(_ setup: DecoderSetup) -> any FamilyDecoder {
        PostgresTracker(clock: setup.clock, sampler: setup.sampler, rawLiterals: setup.options.sqlLiterals, resource: setup.resource)
    }
}
