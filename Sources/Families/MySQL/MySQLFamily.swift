import Attach
import Symbols
import TraceEvents
import Tracing

/// MySQL / MariaDB client calls (`mysql.bpf.c`): an entry uprobe and a
/// uretprobe on `mysql_real_query` of libmariadb / libmysqlclient (it starts
/// with `push rbp`: cheap), one CLIENT span per statement (`MySQLSpans`).
/// Cost: 2 probe hits per query.
public enum MySQLFamily: ProbeFamily {
    public static let id = UT_FAMILY_MYSQL
    public static let flag = "mysql"
    public static let traces = "MySQL/MariaDB client queries"

    /// The library names tried when none is given: what the process maps, else the host's.
    public static let defaultLibraries = ["libmariadb.so.3", "libmariadb.so", "libmysqlclient.so"]

    public static func plan(_ target: TraceTarget, spec: String?, options: TraceOptions) throws -> FamilyPlan {
        let lib = try LibraryPlan.resolve(spec: spec, defaultNames: defaultLibraries, pid: target.pid,
                                          functions: ["mysql_real_query"], flag: flag)
        guard let offset = lib.offsets["mysql_real_query"] else {
            throw FamilyError.missingFunctions(library: lib.displayPath, functions: ["mysql_real_query"], flag: flag)
        }
        let p = mysql_bpf.progs.self
        var config = ut_config()
        config.capture_bytes = options.captureBytes
        return FamilyPlan(family: id, request: ProbeRequest(object: mysql_bpf.object, path: lib.attachPath, pid: lib.pid, config: config,
                                                            sites: [UprobeSite(p.mysql_query_entry, offset),
                                                                    UprobeSite(p.mysql_query_return, offset, retprobe: true)]),
                          displayPath: lib.displayPath, summary: "\(lib.summary): mysql_real_query")
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
