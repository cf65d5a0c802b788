import TraceEvents
import Tracing

/// Joins libpq send and end records into one CLIENT span per statement, with
/// the OpenTelemetry database semantic conventions (`db.system.name`,
/// `db.operation.name`, `db.query.text`, `db.namespace`,
/// `db.response.status_code`).
///
/// State per process and connection: the statement in flight (from its send
/// record until its end record, matched by the send's start time), and the
/// text of each prepared statement seen prepared, so that PQexecPrepared's span
/// carries the statement PQprepare sent.
public struct PostgresTracker: Sendable {
    public let clock: BootClock
    public let resource: @Sendable (UInt32) -> Resource
    public let sampler: Sampler
    /// Put the statement into `db.query.text` as sent, literals and all.
    public let rawLiterals: Bool

    struct Connection: Hashable {
        var pid: UInt32
        var connection: UInt64
    }
    struct Prepared: Hashable {
        var connection: Connection
        var name: [UInt8]
    }
    struct InFlight {
        var send: PostgresSendEvent
        var parent: SpanContext?
    }

    private var inFlight: [Connection: InFlight] = [:]
    private var prepared: [Prepared: [UInt8]] = [:]
    /// Statements in flight kept at most: past it, the older half is forgotten
    /// (connections of exited processes, statements whose end was lost).
    static let inFlightLimit = 16384
    /// Prepared statements kept at most, all processes together (the oldest are forgotten first).
    static let preparedLimit = 4096
    private var preparedOrder: [Prepared] = []

    public init(clock: BootClock, sampler: Sampler = .always, rawLiterals: Bool = false,
                resource: @escaping @Sendable (UInt32) -> Resource) {
        self.clock = clock
        self.sampler = sampler
        self.rawLiterals = rawLiterals
        self.resource = resource
    }

    /// A statement was sent; `parent` is the server span its thread was serving.
    public mutating func consume(_ e: PostgresSendEvent, parent: SpanContext?) {
        let key = Connection(pid: e.pid, connection: e.connection)
        if inFlight.count >= Self.inFlightLimit && inFlight[key] == nil {
            let cut = inFlight.values.map(\.send.startBootNanos).sorted()[inFlight.count / 2]
            inFlight = inFlight.filter { $0.value.send.startBootNanos >= cut }
        }
        inFlight[key] = InFlight(send: e, parent: parent)
        if e.function == .sendPrepare, e.length != nil, !e.readFailed {
            remember(Prepared(connection: key, name: e.name), text: e.statement)
        }
    }

    /// A statement ended: its span, if its send was seen.
    public mutating func consume(_ e: PostgresEndEvent) -> Span? {
        let key = Connection(pid: e.pid, connection: e.connection)
        guard let f = inFlight[key], f.send.startBootNanos == e.startBootNanos else { return nil }
        inFlight[key] = nil
        return span(f.send, end: e, parent: f.parent)
    }

    /// The process exited or the trace stops: what is still in flight has no end.
    public mutating func forget(pid: UInt32) {
        inFlight = inFlight.filter { $0.key.pid != pid }
        prepared = prepared.filter { $0.key.connection.pid != pid }
        preparedOrder.removeAll { $0.connection.pid == pid }
    }

    private mutating func remember(_ key: Prepared, text: [UInt8]) {
        if prepared.updateValue(text, forKey: key) == nil {
            preparedOrder.append(key)
            if preparedOrder.count > Self.preparedLimit { prepared[preparedOrder.removeFirst()] = nil }
        }
    }

    /// One span: named after the operation (`SELECT`; `PREPARE` for PQprepare;
    /// `postgresql` when none is found). PQexecPrepared's text is the one its
    /// statement was prepared with, when that was seen. Parameter values are
    /// never read; their number is `uprobe_trace.db.query.parameter_count`.
    func span(_ s: PostgresSendEvent, end e: PostgresEndEvent, parent: SpanContext?) -> Span {
        var text = s.statement
        var truncated = s.truncated
        var textKnown = s.function != .sendQueryPrepared
        if s.function == .sendQueryPrepared {
            if let t = prepared[Prepared(connection: Connection(pid: s.pid, connection: s.connection), name: s.name)] {
                text = t
                textKnown = true
                truncated = false
            }
        }
        let statement = SQLStatement(bytes: text, dialect: .postgresql)
        let operation = s.function == .sendPrepare ? "PREPARE" : (textKnown ? statement.operation : "EXECUTE")
        var attributes: [Attribute] = [
            .string("db.system.name", "postgresql"),
            .string("db.system", "postgresql"),
        ]
        if !operation.isEmpty { attributes.append(.string("db.operation.name", operation)) }
        if let db = s.database { attributes.append(.string("db.namespace", db)) }
        if textKnown && !s.readFailed {
            attributes.append(.string("db.query.text", rawLiterals ? statement.text : statement.sanitized))
        }
        if truncated && textKnown && s.function != .sendQueryPrepared {
            attributes.append(.bool("uprobe_trace.db.query.truncated", true))
            if let length = s.length { attributes.append(.int("uprobe_trace.db.query.length", Int64(clamping: length))) }
        }
        if s.function == .sendPrepare || s.function == .sendQueryPrepared {
            attributes.append(.string("uprobe_trace.db.prepared_statement", String(decoding: s.name, as: UTF8.self)))
        }
        if s.function != .sendQuery { attributes.append(.int("uprobe_trace.db.query.parameter_count", Int64(s.parameterCount))) }
        if s.readFailed { attributes.append(.bool("uprobe_trace.read_failed", true)) }
        var status = SpanStatus.unset
        if e.failed {
            let code = e.sqlstate ?? (e.status == 5 ? "bad_response" : "postgresql_error")
            if let state = e.sqlstate { attributes.append(.string("db.response.status_code", state)) }
            attributes.append(.string("error.type", code))
            status = .error(message: e.sqlstate.map { "SQLSTATE \($0)" } ?? "libpq result status \(e.status)")
        } else if e.statusUnknown {
            attributes.append(.bool("uprobe_trace.db.result_unread", true))
        }
        attributes.append(.int("thread.id", Int64(s.tid)))
        return Span(
            context: parent?.child() ?? .root(sampler), name: operation.isEmpty ? "postgresql" : operation,
            kind: .client,
            startTimeUnixNano: clock.unixNanos(fromBoot: s.startBootNanos),
            endTimeUnixNano: clock.unixNanos(fromBoot: e.endBootNanos),
            attributes: attributes, status: status, resource: resource(s.pid))
    }
}

extension PostgresTracker: FamilyDecoder {
    public var wantsThreadParent: Bool { true }

    public mutating func consume(_ record: UnsafeRawBufferPointer, kind: UInt32, threadParent: SpanContext?) -> [Span]? {
        if kind == UInt32(UT_EVENT_PG_SEND.rawValue) {
            guard let e = PostgresSendEvent(bytes: record) else { return nil }
            consume(e, parent: threadParent)
            return []
        }
        guard let e = PostgresEndEvent(bytes: record) else { return nil }
        return consume(e).map { [$0] } ?? []
    }
}
