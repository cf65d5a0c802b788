import Symbols

/// What the Go toolchain recorded about how a binary was built: the Go
/// version, the main package path, the module versions and the build settings
/// (what `go version -m BINARY` prints).
///
/// Why: the Go version picks the pclntab layout, the register ABI and the
/// struct-offset table; module versions tell which `net/http` a binary carries.
///
/// The data lives in the `.go.buildinfo` section, which starts with a 32-byte
/// header: the 14-byte magic `"\xff Go buildinf:"`, the pointer size (byte 14)
/// and a flags byte (byte 15). Go 1.18+ sets flag 0x2 and stores the version
/// and module strings inline after the header, each prefixed by an unsigned
/// varint length. Older Go stores two pointers (at byte 16) to Go string
/// headers `{data, len}` elsewhere in the image; byte 15 then says whether
/// those pointers are big-endian.
public struct GoBuildInfo: Sendable, Hashable {
    /// `go1.19.8`, as `runtime.Version()` returns it.
    public var goVersion: String
    /// The main package path (`example.com/app/cmd/server`); empty when the
    /// binary was built without module support.
    public var path: String
    /// The main module, or nil when the binary was built outside a module.
    public var main: GoModule?
    /// Module dependencies in the order the toolchain wrote them.
    public var deps: [GoModule]
    /// `-compiler=gc`, `GOOS=linux`, `vcs.revision=...`, in recorded order
    /// (Go 1.18+; older binaries have none).
    public var settings: [GoBuildSetting]

    public init(goVersion: String, path: String = "", main: GoModule? = nil,
                deps: [GoModule] = [], settings: [GoBuildSetting] = []) {
        self.goVersion = goVersion
        self.path = path
        self.main = main
        self.deps = deps
        self.settings = settings
    }

    /// The value of the first build setting called `key` (`GOARCH`, `-ldflags`).
    public func setting(_ key: String) -> String? {
        settings.first { $0.key == key }?.value
    }

    /// The 14 bytes every `.go.buildinfo` starts with.
    public static let magic: [UInt8] = [0xff] + Array(" Go buildinf:".utf8)
    /// `.go.buildinfo` is aligned to this; a scan for the magic only looks at these boundaries.
    public static let alignment = 16
    static let headerSize = 32
    static let flagBigEndian: UInt8 = 0x1
    static let flagInline: UInt8 = 0x2

    /// Reads memory of the image for the pre-1.18 layout: `(vaddr, count)`
    /// to the bytes there, nil when unmapped.
    public typealias MemoryReader = (_ vaddr: UInt64, _ count: UInt64) -> [UInt8]?

    /// Parses the contents of `.go.buildinfo` (or the bytes from its magic to
    /// the end of the segment holding it; trailing bytes are ignored).
    ///
    /// - Parameters:
    ///   - readMemory: needed only for binaries from Go before 1.18, whose
    ///     strings live elsewhere in the image; without it those throw.
    ///   - path: used in error messages only.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, path: String = "<memory>",
        readMemory: MemoryReader? = nil
    ) throws(GoRuntimeError) -> GoBuildInfo {
        let section = ".go.buildinfo"
        func malformed(_ what: String) -> GoRuntimeError { .malformed(path: path, section: section, what: what) }
        guard bytes.count >= headerSize else {
            throw malformed("\(bytes.count) bytes, shorter than the \(headerSize)-byte header")
        }
        guard bytes.starts(with: magic) else { throw malformed("no \"\\xff Go buildinf:\" magic at the start") }
        let ptrSize = Int(bytes[14])
        let flags = bytes[15]

        let version: [UInt8]
        let modinfo: [UInt8]
        if flags & flagInline != 0 {
            var at = headerSize
            version = try readVarintString(bytes, at: &at, what: "Go version", malformed: malformed)
            modinfo = try readVarintString(bytes, at: &at, what: "module info", malformed: malformed)
        } else {
            guard ptrSize == 4 || ptrSize == 8 else { throw malformed("pointer size \(ptrSize) is neither 4 nor 8") }
            guard let readMemory else {
                throw GoRuntimeError.unsupportedLayout(
                    path: path, section: section,
                    what: "pre-Go 1.18 build info points into the image, and no image reader was given")
            }
            let bigEndian = flags & flagBigEndian != 0
            guard bytes.count >= 16 + 2 * ptrSize else { throw malformed("string pointers cut short") }
            let versionPtr = word(bytes, 16, ptrSize, bigEndian)
            let modPtr = word(bytes, 16 + ptrSize, ptrSize, bigEndian)
            version = try readGoString(at: versionPtr, ptrSize: ptrSize, bigEndian: bigEndian,
                                       what: "Go version", readMemory: readMemory, malformed: malformed)
            modinfo = try readGoString(at: modPtr, ptrSize: ptrSize, bigEndian: bigEndian,
                                       what: "module info", readMemory: readMemory, malformed: malformed)
        }
        guard !version.isEmpty else { throw malformed("empty Go version") }
        var info = try GoModInfo.parse(GoModInfo.stripSentinels(modinfo), path: path)
        info.goVersion = String(decoding: version, as: UTF8.self)
        return info
    }

    /// `[UInt8]` convenience for tests and fuzzing.
    public static func parse(_ bytes: [UInt8], path: String = "<memory>",
                             readMemory: MemoryReader? = nil) throws(GoRuntimeError) -> GoBuildInfo {
        let result: Result<GoBuildInfo, GoRuntimeError> = bytes.withUnsafeBytes { b in
            Result { () throws(GoRuntimeError) in try parse(b, path: path, readMemory: readMemory) }
        }
        return try result.get()
    }

    private static func word(_ b: UnsafeRawBufferPointer, _ at: Int, _ size: Int, _ bigEndian: Bool) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<size {
            let byte = UInt64(b[at + (bigEndian ? i : size - 1 - i)])
            v = v << 8 | byte
        }
        return v
    }

    private static func readVarintString(
        _ b: UnsafeRawBufferPointer, at: inout Int, what: String,
        malformed: (String) -> GoRuntimeError
    ) throws(GoRuntimeError) -> [UInt8] {
        var length: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard at < b.count else { throw malformed("\(what) length cut short") }
            guard shift < 64 else { throw malformed("\(what) length varint is longer than 10 bytes") }
            let byte = b[at]
            at += 1
            length |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        guard length <= UInt64(b.count - at) else {
            throw malformed("\(what) claims \(length) bytes, \(b.count - at) remain")
        }
        let s = Array(b[at..<(at + Int(length))])
        at += Int(length)
        return s
    }

    private static func readGoString(
        at vaddr: UInt64, ptrSize: Int, bigEndian: Bool, what: String,
        readMemory: MemoryReader, malformed: (String) -> GoRuntimeError
    ) throws(GoRuntimeError) -> [UInt8] {
        guard let header = readMemory(vaddr, UInt64(2 * ptrSize)), header.count == 2 * ptrSize else {
            throw malformed("\(what) string header at 0x\(String(vaddr, radix: 16)) is not in the image")
        }
        let (data, length) = header.withUnsafeBytes { h in
            (word(h, 0, ptrSize, bigEndian), word(h, ptrSize, ptrSize, bigEndian))
        }
        if length == 0 { return [] }
        guard length < 1 << 24, let s = readMemory(data, length), s.count == Int(length) else {
            throw malformed("\(what) string (\(length) bytes at 0x\(String(data, radix: 16))) is not in the image")
        }
        return s
    }
}

/// One module in a binary's build info: the main module or a dependency,
/// with its `=>` replacement when go.mod replaced it.
public struct GoModule: Sendable, Hashable {
    /// A module path, version and go.sum hash (`h1:...`; empty for replaced or local modules).
    public struct Version: Sendable, Hashable {
        public var path: String
        public var version: String
        public var sum: String
        public init(path: String, version: String, sum: String = "") {
            self.path = path
            self.version = version
            self.sum = sum
        }
    }

    public var path: String
    public var version: String
    public var sum: String
    /// What go.mod replaced the module with (`=> ./greet (devel)`).
    public var replacement: Version?

    public init(path: String, version: String, sum: String = "", replacement: Version? = nil) {
        self.path = path
        self.version = version
        self.sum = sum
        self.replacement = replacement
    }
}

/// One `build` line of the build info: `GOARCH=amd64`, `-ldflags=-s -w`
/// (values unquoted).
public struct GoBuildSetting: Sendable, Hashable {
    public var key: String
    public var value: String
}
