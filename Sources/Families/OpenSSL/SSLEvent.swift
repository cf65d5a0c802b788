import Tracing
import TraceEvents

/// A decoded `struct ut_ssl_event` (trace_events.h) and the plaintext bytes
/// that follow it: one `SSL_read`/`SSL_write`(`_ex`) call that moved bytes.
public struct SSLEvent: DecodedRecord, Sendable, Equatable {
    /// Which way the plaintext went, from the traced process's point of view.
    public enum Direction: Sendable, Equatable {
        /// `SSL_write` / `SSL_write_ex`: the process sent `data`.
        case write
        /// `SSL_read` / `SSL_read_ex`: the process received `data`.
        case read
        /// `SSL_free`: the connection is over (its `SSL*` may be reused).
        case free
    }

    public var header: RecordHeader
    /// The `SSL*`: identifies the connection within the process.
    public var ssl: UInt64
    /// Bytes the call moved (`> data.count` when the capture was cut short).
    public var result: Int64
    /// `enum ut_ssl_function`.
    public var function: UInt32
    /// The first bytes of the plaintext (at most the capture size).
    public var data: [UInt8]

    public var direction: Direction {
        if function == UInt32(UT_SSL_FREE.rawValue) { return .free }
        return function == UInt32(UT_SSL_WRITE.rawValue) || function == UInt32(UT_SSL_WRITE_EX.rawValue) ? .write : .read
    }

    /// Bytes moved but not captured (the capture limit, or a failed user-memory read).
    public var missingBytes: Int { max(0, Int(result) - data.count) }

    /// Decodes one ring-buffer record; nil if it is not an SSL event or its
    /// length disagrees with `captured`.
    public init?(bytes: UnsafeRawBufferPointer) {
        let size = MemoryLayout<ut_ssl_event>.size
        guard bytes.count >= size else { return nil }
        let e = bytes.loadUnaligned(as: ut_ssl_event.self)
        guard e.h.kind == UInt32(UT_EVENT_SSL.rawValue), bytes.count == size + Int(e.captured),
              (UInt32(UT_SSL_WRITE.rawValue)...UInt32(UT_SSL_FREE.rawValue)).contains(e.function) else { return nil }
        header = RecordHeader(e.h)
        ssl = e.ssl
        result = e.result
        function = e.function
        data = [UInt8](bytes[size...])
    }

    /// Decodes one ring-buffer record held in an array.
    public init?(bytes: [UInt8]) {
        guard let e = bytes.withUnsafeBytes({ SSLEvent(bytes: $0) }) else { return nil }
        self = e
    }

    /// Builds an event directly (tests, replay); `result` defaults to `data.count`.
    public init(pid: UInt32, tid: UInt32 = 0, ssl: UInt64, direction: Direction, ex: Bool = false,
                startBootNanos: UInt64, endBootNanos: UInt64, data: [UInt8], result: Int64? = nil, flags: UInt32 = 0) {
        header = RecordHeader(pid: pid, tid: tid, flags: flags, startBootNanos: startBootNanos, endBootNanos: endBootNanos)
        self.ssl = ssl
        self.result = result ?? Int64(data.count)
        let f: ut_ssl_function = switch (direction, ex) {
        case (.write, false): UT_SSL_WRITE
        case (.write, true): UT_SSL_WRITE_EX
        case (.read, false): UT_SSL_READ
        case (.read, true): UT_SSL_READ_EX
        case (.free, _): UT_SSL_FREE
        }
        function = UInt32(f.rawValue)
        self.data = data
    }
}
