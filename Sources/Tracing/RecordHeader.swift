import TraceEvents

/// The per-call fields every ring-buffer record starts with (`struct ut_event_header`,
/// trace_events.h), decoded once for all families. The kind stays with the decoder,
/// which has already chosen the record's type by it.
public struct RecordHeader: Sendable, Equatable {
    public var pid: UInt32
    /// The thread at the entry probe.
    public var tid: UInt32
    /// `enum ut_event_flags`.
    public var flags: UInt32
    /// The goroutine id (`runtime.g.goid`); 0 outside Go.
    public var goid: UInt64
    /// CLOCK_BOOTTIME at the entry probe.
    public var startBootNanos: UInt64
    /// CLOCK_BOOTTIME at the return probe.
    public var endBootNanos: UInt64

    public init(pid: UInt32, tid: UInt32 = 0, flags: UInt32 = 0, goid: UInt64 = 0,
                startBootNanos: UInt64, endBootNanos: UInt64) {
        self.pid = pid
        self.tid = tid
        self.flags = flags
        self.goid = goid
        self.startBootNanos = startBootNanos
        self.endBootNanos = endBootNanos
    }

    public init(_ h: ut_event_header) {
        self.init(pid: h.tgid, tid: h.tid, flags: h.flags, goid: h.goid, startBootNanos: h.start_ns, endBootNanos: h.end_ns)
    }
}

/// A decoded record: its header's fields read as its own (`event.pid`).
public protocol DecodedRecord {
    var header: RecordHeader { get }
}

extension DecodedRecord {
    public var pid: UInt32 { header.pid }
    public var tid: UInt32 { header.tid }
    public var flags: UInt32 { header.flags }
    public var goid: UInt64 { header.goid }
    public var startBootNanos: UInt64 { header.startBootNanos }
    public var endBootNanos: UInt64 { header.endBootNanos }
}
