import TraceEvents

/// The Go net/http probes of `bpf/go_http.bpf.c`, loaded and attached to one
/// Go executable. Owns the `BPFObject` (and so every uprobe link).
///
/// Takes plain values, not GoRuntime types: the caller resolves the file
/// offsets (entry of each function, every RET of it) and the struct field
/// offsets, and says which program goes where.
public final class GoHTTPProbes: Sendable {
    /// The programs of `go_http.bpf.c`, and where each must be attached.
    public enum Program: String, Sendable, CaseIterable {
        /// Entry of `net/http.serverHandler.ServeHTTP`.
        case serverEntry = "go_server_entry"
        /// Every RET of `net/http.serverHandler.ServeHTTP`.
        case serverReturn = "go_server_return"
        /// Every RET of `net/http.(*conn).serve` (closes panicked requests).
        case connServeReturn = "go_conn_serve_return"
        /// Entry of `net/http.(*Transport).roundTrip`.
        case clientEntry = "go_client_entry"
        /// Every RET of `net/http.(*Transport).roundTrip`.
        case clientReturn = "go_client_return"
        /// Entry of `net/http.(*persistConn).roundTrip` (the client's TCP connection).
        case clientConnEntry = "go_client_conn_entry"
        /// Every RET of `runtime.newproc1` (which request a new goroutine works for).
        case newprocReturn = "go_newproc_return"
    }

    /// One uprobe: a program at a file offset of the executable.
    public struct Point: Sendable, Hashable {
        public let program: Program
        public let fileOffset: UInt64
        public init(_ program: Program, _ fileOffset: UInt64) {
            self.program = program
            self.fileOffset = fileOffset
        }
    }

    /// The loaded object; its links are the attached probes.
    public let object: BPFObject
    /// The executable the probes are in.
    public let binaryPath: String

    /// Opens the embedded `go_http` object, writes the config (`ut_cfg`:
    /// target process and Go struct offsets), sizes the ring buffer, loads it
    /// and attaches every point in `points` at `binaryPath`.
    ///
    /// - Parameters:
    ///   - pid: trace only this process (also filters in BPF); nil: every
    ///     process running `binaryPath`, including later ones.
    ///   - ringBufferBytes: power of two, multiple of the page size; nil keeps 4 MiB.
    ///   - shared: the ring buffer and lost counters to use instead of the object's own
    ///     (`ringBufferBytes` is then `shared`'s).
    ///   - peer: Go probes already loaded for another executable or process: this
    ///     object shares their in-flight client requests and client connections, so a
    ///     server here can find the traced client (there) that called it.
    /// - Throws: on failure nothing stays attached or loaded.
    public init(binaryPath: String, pid: Int32?, offsets: ut_go_offsets, points: [Point], ringBufferBytes: UInt32? = nil,
                shared: SharedMaps? = nil, peer: GoHTTPProbes? = nil) throws(AttachError) {
        let object = try BPFObject(embedded: .goHTTP)
        do {
            var config = ut_config()
            config.target_tgid = pid.map { UInt32(bitPattern: $0) } ?? 0
            config.go = offsets
            try object.setReadOnlyGlobal("ut_cfg", to: config)
            if let peer {
                for map in Self.crossProcessMaps { try object.reuseMap(map, fd: try peer.object.mapFD(map)) }
            }
            if let shared {
                try object.use(shared)
            } else if let ringBufferBytes {
                try object.setMaxEntries(map: "ut_events", ringBufferBytes)
            }
            try object.load()
            for point in points {
                try object.attachUprobe(program: point.program.rawValue, path: binaryPath, offset: point.fileOffset, pid: pid)
            }
        } catch {
            object.detach()
            throw error
        }
        self.object = object
        self.binaryPath = binaryPath
    }

    /// The maps a server in one process reads about clients in another (go_http.bpf.c).
    static let crossProcessMaps = ["go_client_inflight", "go_conn_clients"]

    /// Number of attached uprobes.
    public var probeCount: Int { object.attachedCount }

    /// A reader of this object's events (`struct ut_go_http_event` records); call `start()` on it.
    public func reader(_ handler: @escaping RingBufferReader.Handler) throws(AttachError) -> RingBufferReader {
        try RingBufferReader(object: object, handler: handler)
    }

    /// Events lost in the kernel because the ring buffer was full.
    public func lostEvents() throws(AttachError) -> UInt64 {
        try object.lostEvents(family: UT_FAMILY_GO_HTTP)
    }

    /// Removes every probe and unloads the programs. Stop readers first.
    public func detach() { object.detach() }
}
