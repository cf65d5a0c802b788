import Attach
import Symbols
import TraceEvents
import Tracing

/// Go `net/http` servers and clients (`go_http.bpf.c`): a SERVER span per
/// request a Go program serves, a CLIENT span per request it makes, joined into
/// traces (incoming `traceparent`, goroutine ancestry, traced clients in other
/// processes). Plans through `GoHTTPPlan`; decodes with `GoTraceContexts` and
/// `GoHTTPSpans`.
public enum GoHTTPFamily: ProbeFamily {
    public static let id = UT_FAMILY_GO_HTTP
    public static let flag = "go-http"
    public static let traces = "Go net/http"

    /// The maps a server in one process reads about clients in another: every
    /// go_http object after the first takes them over from the first.
    public static let crossProcessMaps = [go_http_bpf.maps.go_client_inflight, go_http_bpf.maps.go_conn_clients,
                                          go_http_bpf.maps.go_h2_conn_clients]

    public static func plan(_ target: TraceTarget, spec: String?, options: TraceOptions) throws -> FamilyPlan {
        let plan: GoHTTPPlan
        switch target {
        case .process(let pid): plan = try GoHTTPPlan.forProcess(pid)
        case .executable(let path): plan = try GoHTTPPlan.forExecutable(path)
        case .host:
            throw FamilyError.notApplicable(family: name, reason: "--go-http needs a program to trace",
                                            hint: "add --pid PID or --exe PATH")
        }
        return plan.familyPlan
    }

    public static func makeDecoder(_ setup: DecoderSetup) -> any FamilyDecoder {
        GoHTTPDecoder(contexts: GoTraceContexts(sampler: setup.sampler),
                      spans: GoHTTPSpans(clock: setup.clock, resource: setup.resource))
    }
}

extension GoHTTPPlan {
    /// This plan as the generic attach path takes it.
    public var familyPlan: FamilyPlan {
        var config = ut_config()
        config.go = offsets
        let who = pid.map { "pid \($0) (\(displayPath), \(goVersion))" } ?? "\(displayPath) (\(goVersion), every process)"
        return FamilyPlan(
            family: GoHTTPFamily.id,
            request: ProbeRequest(object: go_http_bpf.object, path: attachPath, pid: pid, config: config,
                                  sites: sites, sharedMaps: GoHTTPFamily.crossProcessMaps),
            displayPath: displayPath, summary: "\(who): \(functions.joined(separator: ", "))", goVersion: goVersion,
            notes: offsetsNote.map { [$0] } ?? [])
    }
}

/// Go HTTP records → spans: a head record starts a server request's context,
/// a request record (at the request's end) becomes its span.
struct GoHTTPDecoder: FamilyDecoder {
    var contexts: GoTraceContexts
    let spans: GoHTTPSpans

    mutating func consume(_ record: UnsafeRawBufferPointer, kind: UInt32, threadParent: SpanContext?) -> [Span]? {
        switch kind {
        case UInt32(UT_EVENT_GO_HTTP_HEAD.rawValue):
            guard let head = GoHeadEvent(bytes: record) else { return nil }
            contexts.begin(head)
            return []
        case UInt32(UT_EVENT_GO_HTTP_SERVER.rawValue), UInt32(UT_EVENT_GO_HTTP_CLIENT.rawValue):
            guard let e = GoHTTPEvent(bytes: record) else { return nil }
            return [spans.span(for: e, context: contexts.context(for: e))]
        default:
            return nil
        }
    }
}
