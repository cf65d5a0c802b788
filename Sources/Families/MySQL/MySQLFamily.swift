import Attach
import GoRuntime
import Symbols
import TraceEvents
import Tracing

/// MySQL / MariaDB client calls (`mysql.bpf.c`): an entry uprobe and a
/// uretprobe on `mysql_real_query` of libmariadb / libmysqlclient, one CLIENT
/// span per statement (`MySQLSpans`). Cost: 2 probe hits per query; Debian's
/// libmariadb3 starts it with `push %rbp` (emulated), so both are cheap. The
/// entry is kept on other builds too, and `siteReason` says when it is
/// single-stepped: no other site is known to run exactly once per call with
/// the arguments intact (the function moves them into callee-saved registers
/// and may call `strlen` first).
public enum MySQLFamily: ProbeFamily {
    public static let id = UT_FAMILY_MYSQL
    public static let flag = "mysql"
    public static let traces = "MySQL/MariaDB client queries"

    /// The library names tried when none is given: what the process maps, else the host's.
    public static let defaultLibraries = ["libmariadb.so.3", "libmariadb.so", "libmysqlclient.so"]
    /// The traced function.
    public static let function = "mysql_real_query"

    /// Why the entry, for `symbols dump` and the attach note.
    static func siteReason(_ entry: ProbeInstruction?) -> String {
        guard let entry else { return "entry: the first instruction does not decode" }
        return entry.cost.isCheap ? "entry: \(entry.text) is \(entry.cost.rawValue)"
            : "entry, single-stepped: no emulated site with the same meaning is known for this build"
    }

    public static func plan(_ target: TraceTarget, spec: String?, options: TraceOptions) throws -> FamilyPlan {
        let lib = try LibraryPlan.resolve(spec: spec, defaultNames: defaultLibraries, pid: target.pid,
                                          functions: [function], flag: flag)
        guard let offset = lib.offsets[function] else {
            throw FamilyError.missingFunctions(library: lib.displayPath, functions: [function], flag: flag)
        }
        let p = mysql_bpf.progs.self
        var config = ut_config()
        config.capture_bytes = options.captureBytes
        let entry = lib.code(atFileOffset: offset).flatMap { ProbeInstruction(code: $0, at: 0, fileOffset: offset) }
        let notes = entry?.cost.isCheap == true ? [] : ["--mysql: \(function) \(siteReason(entry))"]
        return FamilyPlan(family: id, request: ProbeRequest(object: mysql_bpf.object, path: lib.attachPath, pid: lib.pid, config: config,
                                                            sites: [UprobeSite(p.mysql_query_entry, offset),
                                                                    UprobeSite(p.mysql_query_return, offset, retprobe: true)]),
                          displayPath: lib.displayPath, summary: "\(lib.summary): \(function)", notes: notes)
    }

    public static func makeDecoder(_ setup: DecoderSetup) -> any FamilyDecoder {
        MySQLDecoder(spans: MySQLSpans(clock: setup.clock, rawLiterals: setup.options.sqlLiterals, resource: setup.resource),
                     sampler: setup.sampler)
    }
}

/// MySQL records → spans; a query made on a thread serving a request of
/// another family (a TLS server span) becomes that span's child.
struct MySQLDecoder: FamilyDecoder {
    let spans: MySQLSpans
    let sampler: Sampler
    var wantsThreadParent: Bool { true }

    mutating func consume(_ record: UnsafeRawBufferPointer, kind: UInt32, threadParent: SpanContext?) -> [Span]? {
        guard let e = MySQLEvent(bytes: record) else { return nil }
        return [spans.span(for: e, parent: threadParent, sampler: sampler)]
    }
}
