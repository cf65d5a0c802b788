import Tracing
import TraceEvents

/// A decoded `struct ut_pg_send_event` (trace_events.h) and the statement
/// bytes that follow it: one statement a libpq connection sent (PQsendQuery,
/// PQsendQueryParams, PQsendPrepare, PQsendQueryPrepared — and through them
/// PQexec, PQexecParams, PQprepare, PQexecPrepared).
public struct PostgresSendEvent: DecodedRecord, Sendable, Equatable {
    /// Which libpq function sent it.
    public enum Function: UInt32, Sendable {
        case sendQuery = 1, sendQueryParams = 2, sendPrepare = 3, sendQueryPrepared = 4
    }

    public var header: RecordHeader
    /// The `PGconn*`: identifies the connection within the process.
    public var connection: UInt64
    public var function: Function
    /// `nParams` of the *Params / *Prepared / Prepare calls (their values are never read).
    public var parameterCount: Int32
    /// The statement's full length, when known.
    public var length: UInt64?
    /// The captured statement bytes (none for PQsendQueryPrepared).
    public var statement: [UInt8]
    /// The prepared statement's name (PQsendPrepare, PQsendQueryPrepared; "" = unnamed).
    public var name: [UInt8]
    /// `PQdb(conn)`; nil when unknown.
    public var database: String?

    /// True when the statement is longer than what was captured.
    public var truncated: Bool { length.map { $0 > UInt64(statement.count) } ?? (function != .sendQueryPrepared) }
    /// True when a user-memory read failed.
    public var readFailed: Bool { flags & UInt32(UT_FLAG_READ_FAILED.rawValue) != 0 }

    /// Decodes one ring-buffer record; nil if it is not a send event, is too
    /// short, or says it carries more bytes than it does.
    public init?(bytes: UnsafeRawBufferPointer) {
        let size = MemoryLayout<ut_pg_send_event>.size
        guard bytes.count >= size else { return nil }
        var e = ut_pg_send_event()
        withUnsafeMutableBytes(of: &e) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<size])) }
        guard e.h.kind == UInt32(UT_EVENT_PG_SEND.rawValue), Int(e.captured) <= bytes.count - size,
              let function = Function(rawValue: e.function),
              Int(e.name_len) <= Int(UT_PG_NAME_MAX), Int(e.db_len) <= Int(UT_PG_NAME_MAX) else { return nil }
        header = RecordHeader(e.h)
        connection = e.conn
        self.function = function
        parameterCount = e.n_params
        length = e.length == UInt64.max ? nil : e.length
        statement = [UInt8](bytes[size..<(size + Int(e.captured))])
        name = withUnsafeBytes(of: e.name) { [UInt8]($0.prefix(Int(e.name_len))) }
        database = e.db_len == 0 ? nil : withUnsafeBytes(of: e.db) { String(decoding: $0.prefix(Int(e.db_len)), as: UTF8.self) }
    }

    /// Decodes one ring-buffer record (see `init?(bytes: UnsafeRawBufferPointer)`).
    public init?(bytes: [UInt8]) {
        guard let e = bytes.withUnsafeBytes({ PostgresSendEvent(bytes: $0) }) else { return nil }
        self = e
    }

    /// Builds an event directly (tests, replay).
    public init(pid: UInt32, tid: UInt32 = 0, flags: UInt32 = 0, startBootNanos: UInt64, connection: UInt64,
                function: Function, parameterCount: Int32 = 0, statement: [UInt8], length: UInt64? = nil,
                name: [UInt8] = [], database: String? = nil) {
        header = RecordHeader(pid: pid, tid: tid, flags: flags, startBootNanos: startBootNanos, endBootNanos: startBootNanos)
        self.connection = connection
        self.function = function
        self.parameterCount = parameterCount
        self.statement = statement
        self.length = length ?? (function == .sendQueryPrepared ? 0 : UInt64(statement.count))
        self.name = name
        self.database = database
    }
}

/// A decoded `struct ut_pg_end_event`: the statement that started at
/// `startBootNanos` on `connection` returned its last result at `endBootNanos`.
public struct PostgresEndEvent: DecodedRecord, Sendable, Equatable {
    public var header: RecordHeader
    public var connection: UInt64
    /// Non-NULL results the statement returned.
    public var results: UInt32
    /// ExecStatusType of the first error result (`PGRES_FATAL_ERROR` = 7,
    /// `PGRES_BAD_RESPONSE` = 5); -1: no error; -2: libpq's result layout is unknown.
    public var status: Int32
    /// Its SQLSTATE, when it had one.
    public var sqlstate: String?

    public var failed: Bool { status >= 0 }
    public var statusUnknown: Bool { status == -2 }

    public init?(bytes: UnsafeRawBufferPointer) {
        let size = MemoryLayout<ut_pg_end_event>.size
        guard bytes.count >= size else { return nil }
        var e = ut_pg_end_event()
        withUnsafeMutableBytes(of: &e) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<size])) }
        guard e.h.kind == UInt32(UT_EVENT_PG_END.rawValue) else { return nil }
        header = RecordHeader(e.h)
        connection = e.conn
        results = e.results
        status = e.status
        let state = withUnsafeBytes(of: e.sqlstate) { [UInt8]($0.prefix { $0 != 0 }) }
        sqlstate = state.count == 5 && state.allSatisfy({ isSQLStateByte($0) }) ? String(decoding: state, as: UTF8.self) : nil
    }

    public init(pid: UInt32, tid: UInt32 = 0, startBootNanos: UInt64, endBootNanos: UInt64, connection: UInt64,
                results: UInt32 = 1, status: Int32 = -1, sqlstate: String? = nil) {
        header = RecordHeader(pid: pid, tid: tid, startBootNanos: startBootNanos, endBootNanos: endBootNanos)
        self.connection = connection
        self.results = results
        self.status = status
        self.sqlstate = sqlstate
    }
}

/// SQLSTATE characters: digits and upper-case letters.
private func isSQLStateByte(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
}
