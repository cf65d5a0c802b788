import TraceEvents

/// The OpenSSL probes of `bpf/openssl.bpf.c`, loaded and attached to one
/// `libssl` file. Owns the `BPFObject` (and so every uprobe link).
///
/// Takes plain values, not Symbols types: the caller resolves the file
/// offsets of `SSL_write`, `SSL_write_ex`, `SSL_read` and `SSL_read_ex`
/// (`points(write:writeEx:read:readEx:)` turns them into the eight probes).
///
/// Cost: every SSL call is two probe hits (entry + uretprobe).
public final class SSLProbes: Sendable {
    /// The programs of `openssl.bpf.c`.
    public enum Program: String, Sendable, CaseIterable {
        /// Entry of `SSL_write`.
        case writeEntry = "ssl_write_entry"
        /// Entry of `SSL_write_ex`.
        case writeExEntry = "ssl_write_ex_entry"
        /// Entry of `SSL_read`.
        case readEntry = "ssl_read_entry"
        /// Entry of `SSL_read_ex`.
        case readExEntry = "ssl_read_ex_entry"
        /// Return of any of the four (attach as a uretprobe).
        case ret = "ssl_return"
    }

    /// One uprobe: a program at a file offset of the library, entry or return.
    public struct Point: Sendable, Hashable {
        public let program: Program
        public let fileOffset: UInt64
        public let retprobe: Bool
        public init(_ program: Program, _ fileOffset: UInt64, retprobe: Bool = false) {
            self.program = program
            self.fileOffset = fileOffset
            self.retprobe = retprobe
        }
    }

    /// The entry and return probes for the functions whose file offsets are
    /// given (nil: the library lacks it, e.g. `_ex` before OpenSSL 1.1.1).
    public static func points(write: UInt64?, writeEx: UInt64?, read: UInt64?, readEx: UInt64?) -> [Point] {
        let entries: [(Program, UInt64?)] = [(.writeEntry, write), (.writeExEntry, writeEx), (.readEntry, read), (.readExEntry, readEx)]
        return entries.flatMap { program, offset -> [Point] in
            guard let offset else { return [] }
            return [Point(program, offset), Point(.ret, offset, retprobe: true)]
        }
    }

    /// The loaded object; its links are the attached probes.
    public let object: BPFObject
    /// The library the probes are in.
    public let libraryPath: String

    /// Opens the embedded `openssl` object, writes the config (`ut_cfg`:
    /// target process, capture size), sizes the ring buffer, loads it and
    /// attaches every point at `libraryPath`.
    ///
    /// - Parameters:
    ///   - pid: trace only this process (also filtered in BPF); nil: every
    ///     process that maps `libraryPath`, including later ones.
    ///   - captureBytes: plaintext bytes copied per call; clamped to `UT_CAPTURE_MAX`.
    ///   - ringBufferBytes: power of two, multiple of the page size; nil keeps 4 MiB.
    ///   - shared: the ring buffer and lost counters to use instead of the object's own
    ///     (`ringBufferBytes` is then `shared`'s).
    /// - Throws: on failure nothing stays attached or loaded.
    public init(libraryPath: String, pid: Int32?, captureBytes: UInt32, points: [Point], ringBufferBytes: UInt32? = nil, shared: SharedMaps? = nil) throws(AttachError) {
        let object = try BPFObject(embedded: .openSSL)
        do {
            var config = ut_config()
            config.target_tgid = pid.map { UInt32(bitPattern: $0) } ?? 0
            config.capture_bytes = min(captureBytes, UInt32(UT_CAPTURE_MAX))
            try object.setReadOnlyGlobal("ut_cfg", to: config)
            if let shared {
                try object.use(shared)
            } else if let ringBufferBytes {
                try object.setMaxEntries(map: "ut_events", ringBufferBytes)
            }
            try object.load()
            for point in points {
                try object.attachUprobe(program: point.program.rawValue, path: libraryPath, offset: point.fileOffset,
                                        pid: pid, retprobe: point.retprobe)
            }
        } catch {
            object.detach()
            throw error
        }
        self.object = object
        self.libraryPath = libraryPath
    }

    /// Number of attached uprobes.
    public var probeCount: Int { object.attachedCount }

    /// A reader of this object's events (`struct ut_ssl_event` + data); call `start()` on it.
    public func reader(_ handler: @escaping RingBufferReader.Handler) throws(AttachError) -> RingBufferReader {
        try RingBufferReader(object: object, handler: handler)
    }

    /// Events lost in the kernel because the ring buffer was full.
    public func lostEvents() throws(AttachError) -> UInt64 {
        try object.lostEvents(family: UT_FAMILY_OPENSSL)
    }

    /// Removes every probe and unloads the programs. Stop readers first.
    public func detach() { object.detach() }
}
