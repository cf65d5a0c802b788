/// The fields of `/proc/PID/stat` (proc(5)) that uprobe-trace reads.
///
/// The command name (field 2) is in parentheses and may itself hold spaces
/// and parentheses, so fields are counted from the last `)`.
public struct ProcStat: Equatable, Sendable {
    /// Field 3: `R` running, `S` sleeping, `Z` zombie, ...
    public var state: UInt8
    /// Field 22: when the process started, in clock ticks after boot. An exec
    /// keeps it; another process that reuses the pid does not.
    public var startTime: UInt64
    /// Field 28: the address where the stack starts, which every exec
    /// randomizes (ASLR).
    public var startStack: UInt64

    /// Parses the contents of a `stat` file; nil when a field is missing.
    public init?<Bytes: BidirectionalCollection<UInt8>>(parsing bytes: Bytes) {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // Fields after the name, from field 3 on: index i holds field i + 3.
        let fields = bytes[bytes.index(after: close)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 25, let state = fields[0].first, fields[0].count == 1,
              let startTime = UInt64(String(decoding: fields[19], as: UTF8.self)),
              let startStack = UInt64(String(decoding: fields[25], as: UTF8.self)) else { return nil }
        self.state = state
        self.startTime = startTime
        self.startStack = startStack
    }

    /// Reads `/proc/PID/stat`; nil when the process is gone or the file cannot be parsed.
    public static func read(pid: Int32) -> ProcStat? {
        guard case .success(let bytes) = FileDescriptorIO.readFile("/proc/\(pid)/stat", chunkSize: 1024) else { return nil }
        return ProcStat(parsing: bytes)
    }

    /// Whether the process has exited and awaits its parent (`Z`).
    public var isZombie: Bool { state == UInt8(ascii: "Z") }
}
