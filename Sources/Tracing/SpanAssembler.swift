import TraceEvents

/// Turns the records of every probe family — read from the one ring buffer
/// they share, in the order the kernel reserved them — into spans, and joins
/// spans into traces across families: Go requests through `GoTraceContexts`,
/// TLS exchanges through `TLSHTTPTracker`, and a MySQL query made on a thread
/// that is inside a TLS server span as that span's child.
public struct SpanAssembler: Sendable {
    public private(set) var go: GoTraceContexts
    public private(set) var tls: TLSHTTPTracker
    public let goSpans: GoHTTPSpans
    public let sqlSpans: MySQLSpans
    public let sampler: Sampler
    /// Records that matched no decoder (wrong kind, cut short).
    public private(set) var undecodable = 0

    public init(clock: BootClock, sampler: Sampler = .always, rawSQLLiterals: Bool = false,
                resource: @escaping @Sendable (UInt32) -> Resource) {
        self.sampler = sampler
        go = GoTraceContexts(sampler: sampler)
        tls = TLSHTTPTracker(clock: clock, sampler: sampler, resource: resource)
        goSpans = GoHTTPSpans(clock: clock, resource: resource)
        sqlSpans = MySQLSpans(clock: clock, rawLiterals: rawSQLLiterals, resource: resource)
    }

    /// Feeds one ring-buffer record; returns the spans it completed (sampled or not).
    public mutating func consume(_ record: UnsafeRawBufferPointer) -> [Span] {
        guard record.count >= MemoryLayout<ut_event_header>.size else {
            undecodable += 1
            return []
        }
        let kind = record.loadUnaligned(as: UInt32.self)
        switch kind {
        case UInt32(UT_EVENT_GO_HTTP_HEAD.rawValue):
            if let head = GoHeadEvent(bytes: record) {
                go.begin(head)
                return []
            }
        case UInt32(UT_EVENT_GO_HTTP_SERVER.rawValue), UInt32(UT_EVENT_GO_HTTP_CLIENT.rawValue):
            if let e = GoHTTPEvent(bytes: record) {
                return [goSpans.span(for: e, context: go.context(for: e))]
            }
        case UInt32(UT_EVENT_SSL.rawValue):
            if let e = SSLEvent(bytes: record) { return tls.consume(e) }
        case UInt32(UT_EVENT_MYSQL_QUERY.rawValue):
            if let e = MySQLEvent(bytes: record) {
                return [sqlSpans.span(for: e, parent: tls.serverContext(pid: e.pid, tid: e.tid), sampler: sampler)]
            }
        default:
            break
        }
        undecodable += 1
        return []
    }

    /// Ends what can be ended without more data (TLS responses without a length); at shutdown.
    public mutating func flush() -> [Span] {
        tls.flush()
    }
}
