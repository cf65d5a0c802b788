/// One line of `/proc/PID/maps`: a virtual address range of a process and
/// what backs it.
///
/// The line format (see proc(5)) is
/// `start-end perms offset major:minor inode   path`, all numbers in hex
/// except the decimal inode. The path is optional and may contain spaces.
public struct MapEntry: Sendable, Hashable {
    /// Access bits of a mapping (`r`, `w`, `x`, and `p`rivate or `s`hared).
    public struct Permissions: Sendable, Hashable, CustomStringConvertible {
        public var read: Bool
        public var write: Bool
        public var execute: Bool
        public var shared: Bool

        /// The four characters as the kernel prints them, e.g. `r-xp`.
        public var description: String {
            (read ? "r" : "-") + (write ? "w" : "-") + (execute ? "x" : "-") + (shared ? "s" : "p")
        }
    }

    /// The device a file mapping's inode lives on (`major:minor`).
    public struct Device: Sendable, Hashable, CustomStringConvertible {
        public var major: UInt32
        public var minor: UInt32

        public var description: String {
            let mj = String(major, radix: 16), mn = String(minor, radix: 16)
            return (mj.count < 2 ? "0" + mj : mj) + ":" + (mn.count < 2 ? "0" + mn : mn)
        }
    }

    /// What backs a mapping.
    public enum Kind: Sendable, Hashable {
        /// A file, named by an absolute path (possibly deleted since).
        case file
        /// Anonymous memory with no name (heap tails, bss, thread stacks, JIT).
        case anonymous
        /// A kernel-named region: `[heap]`, `[stack]`, `[vdso]`, `[vvar]`,
        /// `[vsyscall]`, `[anon:name]`, `anon_inode:...` and the like.
        case pseudo
    }

    public var start: UInt64
    public var end: UInt64
    public var permissions: Permissions
    /// File offset of `start` within the backing file (0 for anonymous memory).
    public var offset: UInt64
    public var device: Device
    public var inode: UInt64
    /// The path or pseudo name, with a trailing ` (deleted)` removed; nil for anonymous memory.
    public var path: String?
    /// The kernel marked the file ` (deleted)`: it was unlinked (or replaced) after being mapped.
    public var isDeleted: Bool

    public init(start: UInt64, end: UInt64, permissions: Permissions, offset: UInt64,
                device: Device, inode: UInt64, path: String?, isDeleted: Bool = false) {
        self.start = start
        self.end = end
        self.permissions = permissions
        self.offset = offset
        self.device = device
        self.inode = inode
        self.path = path
        self.isDeleted = isDeleted
    }

    public var size: UInt64 { end - start }

    public var kind: Kind {
        guard let path, !path.isEmpty else { return .anonymous }
        return path.hasPrefix("/") ? .file : .pseudo
    }

    /// Whether `address` lies in `[start, end)`.
    public func contains(address: UInt64) -> Bool {
        address >= start && address < end
    }

    /// Whether file offset `fileOffset` is mapped by this entry: `[offset, offset + size)`.
    public func contains(fileOffset: UInt64) -> Bool {
        kind == .file && fileOffset >= offset && fileOffset - offset < size
    }

    /// The name of this mapping's entry under `/proc/PID/map_files/`.
    public var mapFilesName: String {
        String(start, radix: 16) + "-" + String(end, radix: 16)
    }
}

/// Parser and loader for `/proc/PID/maps`.
///
/// Parsing takes bytes, so tests feed it literal text; `read(pid:)` is the
/// thin loader. A line that does not parse (garbage, or the last line cut
/// short) is skipped and its 1-based number recorded, never a trap.
public struct ProcMaps: Sendable {
    public var entries: [MapEntry]
    /// 1-based numbers of the non-empty lines that did not parse.
    public var skippedLines: [Int]

    /// Parses the whole text of a maps file.
    public init(parsing bytes: UnsafeRawBufferPointer) {
        var entries: [MapEntry] = []
        var skipped: [Int] = []
        var lineStart = 0
        var lineNumber = 0
        let n = bytes.count
        while lineStart < n {
            var lineEnd = lineStart
            while lineEnd < n && bytes[lineEnd] != 0x0a { lineEnd += 1 }
            lineNumber += 1
            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd])
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) {
                if let e = Self.parseLine(line) { entries.append(e) } else { skipped.append(lineNumber) }
            }
            lineStart = lineEnd + 1
        }
        self.entries = entries
        self.skippedLines = skipped
    }

    public init(parsing bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { Self(parsing: $0) }
    }

    public init(parsing text: String) {
        var copy = text
        self = copy.withUTF8 { Self(parsing: UnsafeRawBufferPointer($0)) }
    }

    /// The entries of a maps text, bad lines skipped.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> [MapEntry] { Self(parsing: bytes).entries }
    public static func parse(_ bytes: [UInt8]) -> [MapEntry] { Self(parsing: bytes).entries }

    /// Parses one line (without its newline); nil when it is not a maps line.
    public static func parseLine(_ line: UnsafeRawBufferPointer) -> MapEntry? {
        var p = FieldScanner(bytes: line)
        guard let start = p.hex(until: 0x2d), p.skip(0x2d),
              let end = p.hex(until: 0x20), end >= start, p.skip(0x20),
              let perms = p.permissions(), p.skip(0x20),
              let offset = p.hex(until: 0x20), p.skip(0x20),
              let major = p.hex(until: 0x3a), p.skip(0x3a),
              let minor = p.hex(until: 0x20), p.skip(0x20),
              major <= UInt64(UInt32.max), minor <= UInt64(UInt32.max),
              let inode = p.decimal()
        else { return nil }
        // After the inode: end of line, or a run of blanks and then the path.
        var path: String?
        var deleted = false
        if !p.atEnd {
            let blanks = p.skipBlanks()
            var raw = p.rest()
            // A stray carriage return is not part of any kernel-written path.
            while let last = raw.last, last == 0x0d { raw.removeLast() }
            if !raw.isEmpty {
                guard blanks > 0 else { return nil }
                var s = Self.unescape(raw)
                let suffix = " (deleted)"
                if s.hasSuffix(suffix) {
                    s.removeLast(suffix.count)
                    deleted = true
                }
                path = s
            }
        }
        return MapEntry(start: start, end: end, permissions: perms, offset: offset,
                        device: .init(major: UInt32(major), minor: UInt32(minor)),
                        inode: inode, path: path, isDeleted: deleted)
    }

    /// The kernel escapes only a newline in a path, as `\012`.
    private static func unescape(_ raw: [UInt8]) -> String {
        let esc: [UInt8] = Array("\\012".utf8)
        guard raw.count >= 4, raw.indices.dropLast(3).contains(where: { raw[$0..<($0 + 4)].elementsEqual(esc) }) else {
            return String(decoding: raw, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            if i + 4 <= raw.count, raw[i..<(i + 4)].elementsEqual(esc) {
                out.append(0x0a)
                i += 4
            } else {
                out.append(raw[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Reads and parses `/proc/PID/maps`.
    public static func read(pid: Int32) throws(SymbolsError) -> ProcMaps {
        let bytes = try ProcFS.contents(pid: pid, "maps")
        return ProcMaps(parsing: bytes)
    }

    /// Same, for a pid given as text (`--pid 1234`); `self` means this process.
    public static func read(pid text: String) throws(SymbolsError) -> ProcMaps {
        try read(pid: try ProcFS.parsePID(text))
    }
}

/// A cursor over one maps line; every step checks bounds.
private struct FieldScanner {
    let bytes: UnsafeRawBufferPointer
    var i = 0

    var atEnd: Bool { i >= bytes.count }

    mutating func skip(_ c: UInt8) -> Bool {
        guard i < bytes.count, bytes[i] == c else { return false }
        i += 1
        return true
    }

    mutating func skipBlanks() -> Int {
        let s = i
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
        return i - s
    }

    /// 1 to 16 hex digits, followed by `terminator`.
    mutating func hex(until terminator: UInt8) -> UInt64? {
        var v: UInt64 = 0
        var digits = 0
        while i < bytes.count, bytes[i] != terminator {
            let c = bytes[i]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x61...0x66: d = c - 0x61 + 10
            case 0x41...0x46: d = c - 0x41 + 10
            default: return nil
            }
            digits += 1
            if digits > 16 { return nil }
            v = v << 4 | UInt64(d)
            i += 1
        }
        return digits > 0 && i < bytes.count ? v : nil
    }

    /// Decimal digits up to a blank or the end of the line.
    mutating func decimal() -> UInt64? {
        var v: UInt64 = 0
        var digits = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 0x30))
            if o1 || o2 { return nil }
            v = a
            digits += 1
            i += 1
        }
        guard digits > 0 else { return nil }
        if i < bytes.count, bytes[i] != 0x20, bytes[i] != 0x09, bytes[i] != 0x0d { return nil }
        return v
    }

    mutating func permissions() -> MapEntry.Permissions? {
        guard i + 4 <= bytes.count else { return nil }
        let r = bytes[i], w = bytes[i + 1], x = bytes[i + 2], s = bytes[i + 3]
        guard r == 0x72 || r == 0x2d, w == 0x77 || w == 0x2d, x == 0x78 || x == 0x2d,
              s == 0x70 || s == 0x73 else { return nil }
        i += 4
        return .init(read: r == 0x72, write: w == 0x77, execute: x == 0x78, shared: s == 0x73)
    }

    mutating func rest() -> [UInt8] {
        defer { i = bytes.count }
        return Array(bytes[i...])
    }
}
