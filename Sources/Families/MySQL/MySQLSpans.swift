import TraceEvents
import Tracing
/// Turns MySQL client events into CLIENT spans with the OpenTelemetry
/// database semantic conventions (`db.system.name`, `db.operation.name`,
/// `db.query.text`).
public struct MySQLSpans: Sendable {
    public let clock: BootClock
    public let resource: @Sendable (UInt32) -> Resource
    /// Put the statement into `db.query.text` as sent, literals and all,
    /// instead of sanitized (`?` for every literal, comments dropped).
    public let rawLiterals: Bool

    public init(clock: BootClock, rawLiterals: Bool = false, resource: @escaping @Sendable (UInt32) -> Resource) {
        self.clock = clock
        self.rawLiterals = rawLiterals
        self.resource = resource
    }

    /// One span per `mysql_real_query` call: named after the operation
    /// (`SELECT`; `mysql` when none is found), start and end at the probes.
    /// A statement longer than its capture is marked with
    /// `uprobe_trace.db.query.truncated` (and its full length, when known).
    /// A non-zero return makes the span an error with `error.type` = `mysql_error`.
    /// `parent`: the span of the request the query was made for (a TLS server
    /// span on the same thread); nil: the query starts a trace of its own.
    public func span(for e: MySQLEvent, parent: SpanContext? = nil, sampler: Sampler = .always) -> Span {
        let statement = SQLStatement(bytes: e.statement)
        let operation = statement.operation
        var attributes: [Attribute] = [
            .string("db.system.name", "mysql"),
            .string("db.system", "mysql"),
        ]
        if !operation.isEmpty { attributes.append(.string("db.operation.name", operation)) }
        attributes.append(.string("db.query.text", rawLiterals ? statement.text : statement.sanitized))
        if e.truncated {
            attributes.append(.bool("uprobe_trace.db.query.truncated", true))
            if let length = e.knownLength { attributes.append(.int("uprobe_trace.db.query.length", Int64(clamping: length))) }
        }
        if e.readFailed { attributes.append(.bool("uprobe_trace.read_failed", true)) }
        var status = SpanStatus.unset
        if e.failed {
            attributes.append(.string("error.type", "mysql_error"))
            status = .error(message: "mysql_real_query returned \(e.result)")
        }
        attributes.append(.int("thread.id", Int64(e.tid)))
        return Span(
            context: parent?.child() ?? .root(sampler), name: operation.isEmpty ? "mysql" : operation,
            kind: .client,
            startTimeUnixNano: clock.unixNanos(fromBoot: e.startBootNanos),
            endTimeUnixNano: clock.unixNanos(fromBoot: e.endBootNanos),
            attributes: attributes, status: status, resource: resource(e.pid))
    }
}
