import Attach
import Symbols
import TraceEvents
import Tracing

/// gRPC in Go programs (`google.golang.org/grpc`, `go_grpc.bpf.c`): a SERVER
/// span per call served and a CLIENT span per call made, unary or streaming,
/// named `package.Service/Method` with the RPC semantic conventions; an
/// incoming `traceparent` is honoured, calls made while serving one are its
/// children, and a served call is the child of the traced client call (any
/// process on this host) that sent it.
public enum GoGRPCFamily: ProbeFamily {
    public static let id = UT_FAMILY_GO_GRPC
    public static let flag = "go-grpc"
    public static let traces = "Go gRPC"

    public static func plan(_ target: TraceTarget, spec: String?, options: TraceOptions) throws -> FamilyPlan {
        switch target {
        case .process(let pid): return try GoGRPCPlan.forProcess(pid).familyPlan
        case .executable(let path): return try GoGRPCPlan.forExecutable(path).familyPlan
        case .host:
            throw FamilyError.notApplicable(family: name, reason: "--go-grpc needs a program to trace", hint: "add --pid PID or --exe PATH")
        }
    }

    public static func makeDecoder(_ setup: DecoderSetup) -> any FamilyDecoder {
        GoGRPCDecoder(contexts: GoGRPCContexts(sampler: setup.sampler),
                      spans: GoGRPCSpans(clock: setup.clock, resource: setup.resource))
    }
}

/// gRPC records → spans: a context record starts a served call's trace
/// context, a server or client record (at the call's end) becomes its span.
struct GoGRPCDecoder: FamilyDecoder {
    var contexts: GoGRPCContexts
    let spans: GoGRPCSpans

    mutating func consume(_ record: UnsafeRawBufferPointer, kind: UInt32, threadParent: SpanContext?) -> [Span]? {
        guard let e = GoGRPCEvent(bytes: record) else { return nil }
        if e.role == .context {
            contexts.begin(e)
            return []
        }
        return [spans.span(for: e, context: contexts.context(for: e))]
    }
}
