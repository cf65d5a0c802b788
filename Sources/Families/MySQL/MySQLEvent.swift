import Tracing
import TraceEvents

/// A decoded `struct ut_mysql_event` (trace_events.h) and the statement bytes
/// that follow it: one `mysql_real_query` call seen at entry and return.
public struct MySQLEvent: DecodedRecord, Sendable, Equatable {
    public var header: RecordHeader
    /// The `MYSQL*` handle: identifies the connection within the process.
    public var handle: UInt64
    /// `mysql_real_query`'s return value: 0 ok, non-zero error.
    public var result: Int64
    /// The statement length the caller passed; `UInt64.max` when it passed
    /// `(unsigned long)-1` (NUL-terminated) and the NUL was not within the capture.
    public var length: UInt64
    /// The captured statement bytes (the first `min(length, capture)` bytes).
    public var statement: [UInt8]

    /// True when the call failed.
    public var failed: Bool { result != 0 }
    /// True when the statement is longer than what was captured.
    public var truncated: Bool { length > UInt64(statement.count) }
    /// True when the statement could not be read from the process.
    public var readFailed: Bool { flags & UInt32(UT_FLAG_READ_FAILED.rawValue) != 0 }
    /// The full statement length, when known.
    public var knownLength: UInt64? { length == UInt64.max ? nil : length }

    /// Decodes one ring-buffer record; nil if it is not a MySQL event, is too
    /// short, or says it carries more bytes than it does.
    public init?(bytes: UnsafeRawBufferPointer) {
        let size = MemoryLayout<ut_mysql_event>.size
        guard bytes.count >= size else { return nil }
        var e = ut_mysql_event()
        withUnsafeMutableBytes(of: &e) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<size])) }
        guard e.h.kind == UInt32(UT_EVENT_MYSQL_QUERY.rawValue), Int(e.captured) <= bytes.count - size else { return nil }
        header = RecordHeader(e.h)
        handle = e.mysql
        result = e.result
        length = e.length
        statement = [UInt8](bytes[size..<(size + Int(e.captured))])
    }

    /// Decodes one ring-buffer record (see `init?(bytes: UnsafeRawBufferPointer)`).
    public init?(bytes: [UInt8]) {
        guard let e = bytes.withUnsafeBytes({ MySQLEvent(bytes: $0) }) else { return nil }
        self = e
    }

    /// Builds an event directly (tests, replay). `length` defaults to the statement's.
    public init(pid: UInt32, tid: UInt32 = 0, flags: UInt32 = 0, startBootNanos: UInt64, endBootNanos: UInt64,
                handle: UInt64 = 0, result: Int64, length: UInt64? = nil, statement: [UInt8]) {
        header = RecordHeader(pid: pid, tid: tid, flags: flags, startBootNanos: startBootNanos, endBootNanos: endBootNanos)
        self.handle = handle
        self.result = result
        self.length = length ?? UInt64(statement.count)
        self.statement = statement
    }
}
