import TraceEvents

/// The MySQL client probes of `bpf/mysql.bpf.c` (an entry uprobe and a
/// uretprobe on `mysql_real_query`), loaded and attached to one client
/// library (`libmariadb.so.3`, `libmysqlclient.so.*`). Owns the `BPFObject`
/// (and so both uprobe links).
///
/// Takes plain values, not Symbols types: the caller resolves the library
/// path and the file offset of `mysql_real_query`.
public final class MySQLProbes: Sendable {
    /// Statement bytes copied per call unless told otherwise: enough for most
    /// hand-written and ORM statements, small enough that a bulk INSERT does
    /// not fill the ring buffer. Longer statements are marked truncated.
    public static let defaultCaptureBytes: UInt32 = 1024

    /// The programs of `mysql.bpf.c`.
    public enum Program: String, Sendable, CaseIterable {
        /// Entry of `mysql_real_query` (uprobe).
        case queryEntry = "mysql_query_entry"
        /// Return of `mysql_real_query` (uretprobe).
        case queryReturn = "mysql_query_return"
    }

    /// The loaded object; its links are the attached probes.
    public let object: BPFObject
    /// The client library the probes are in.
    public let libraryPath: String
    /// Statement bytes copied per call, after clamping to `UT_CAPTURE_MAX`.
    public let captureBytes: UInt32

    /// Opens the embedded `mysql` object, writes the config (`ut_cfg`: target
    /// process, capture size), sizes the ring buffer, loads it and attaches
    /// the entry uprobe and the uretprobe at `entryOffset` of `libraryPath`.
    ///
    /// - Parameters:
    ///   - libraryPath: the client library file (as the process maps it).
    ///   - pid: trace only this process (also filters in BPF); nil: every
    ///     process that maps `libraryPath`, including later ones.
    ///   - captureBytes: statement bytes to copy per call, clamped to
    ///     `UT_CAPTURE_MAX` (8192).
    ///   - entryOffset: file offset of `mysql_real_query` in `libraryPath`.
    ///   - ringBufferBytes: power of two, multiple of the page size; nil keeps 4 MiB.
    ///   - shared: the ring buffer and lost counters to use instead of the object's own
    ///     (`ringBufferBytes` is then `shared`'s).
    /// - Throws: on failure nothing stays attached or loaded.
    public init(libraryPath: String, pid: Int32?, captureBytes: UInt32 = MySQLProbes.defaultCaptureBytes,
                entryOffset: UInt64, ringBufferBytes: UInt32? = nil, shared: SharedMaps? = nil) throws(AttachError) {
        let object = try BPFObject(embedded: .mysql)
        let capture = min(captureBytes, UInt32(UT_CAPTURE_MAX))
        do {
            var config = ut_config()
            config.target_tgid = pid.map { UInt32(bitPattern: $0) } ?? 0
            config.capture_bytes = capture
            try object.setReadOnlyGlobal("ut_cfg", to: config)
            if let shared {
                try object.use(shared)
            } else if let ringBufferBytes {
                try object.setMaxEntries(map: "ut_events", ringBufferBytes)
            }
            try object.load()
            try object.attachUprobe(program: Program.queryEntry.rawValue, path: libraryPath, offset: entryOffset, pid: pid)
            try object.attachUprobe(program: Program.queryReturn.rawValue, path: libraryPath, offset: entryOffset,
                                    pid: pid, retprobe: true)
        } catch {
            object.detach()
            throw error
        }
        self.object = object
        self.libraryPath = libraryPath
        self.captureBytes = capture
    }

    /// Number of attached uprobes (2 while attached).
    public var probeCount: Int { object.attachedCount }

    /// A reader of this object's events (`struct ut_mysql_event` + statement
    /// bytes); call `start()` on it.
    public func reader(_ handler: @escaping RingBufferReader.Handler) throws(AttachError) -> RingBufferReader {
        try RingBufferReader(object: object, handler: handler)
    }

    /// Events lost in the kernel because the ring buffer was full.
    public func lostEvents() throws(AttachError) -> UInt64 {
        try object.lostEvents(family: UT_FAMILY_MYSQL)
    }

    /// Removes both probes and unloads the programs. Stop readers first.
    public func detach() { object.detach() }
}
