/// The dynamic linker's library cache, `/etc/ld.so.cache`, as `ldconfig -p`
/// lists it: which file a bare library name such as `libssl.so.3` loads.
///
/// Format (glibc `elf/cache.h`), little-endian here:
/// - optionally the old `ld.so-1.7.0` table first: 11-byte magic, `u32 nlibs` at 12,
///   then `nlibs` 12-byte entries; the new table follows at the next 8-byte boundary;
/// - the new table: `glibc-ld.so.cache` + `1.1` (20 bytes), `u32 nlibs`, `u32 stringsLength`,
///   `u8 flags`, 3 padding bytes, `u32 extensionOffset`, 3 unused `u32` (48 bytes), then
///   `nlibs` 24-byte entries `{i32 flags, u32 key, u32 value, u32 osVersion, u64 hwcap}`;
///   key and value are offsets of NUL-terminated strings from the start of the new header.
public struct LDSOCache: Sendable {
    /// One library the cache knows: its soname-like key and the file path.
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var path: String
        /// `FLAG_*` bits: low byte the kind (3 = ELF libc6), high byte the ABI (0x03 = x86-64).
        public var flags: Int32
        /// Non-zero for copies under a `glibc-hwcaps` subdirectory or with hardware capabilities.
        public var hwcap: UInt64

        /// ELF libc6 library of the architecture this program runs on.
        public var isForThisHost: Bool { flags == LDSOCache.hostFlags }
    }

    public static let defaultPath = "/etc/ld.so.cache"
    static let oldMagic = Array("ld.so-1.7.0".utf8)
    static let newMagic = Array("glibc-ld.so.cache".utf8)

    #if arch(x86_64)
    static let hostFlags: Int32 = 0x0303
    #elseif arch(arm64)
    static let hostFlags: Int32 = 0x0a03
    #else
    static let hostFlags: Int32 = 0x0003
    #endif

    /// Entries in cache order (ldconfig sorts them so the preferred copy of a name comes first).
    public var entries: [Entry]

    /// Parses the bytes of an ld.so.cache; `path` is used in messages only.
    public init(parsing bytes: UnsafeRawBufferPointer, path: String = defaultPath) throws(SymbolsError) {
        let r = ByteReader(bytes)
        guard let newStart = Self.newTableOffset(r) else {
            throw .malformed(path: path, what: "no glibc-ld.so.cache1.1 table (ldconfig too old or file corrupt)")
        }
        guard let version = r.slice(newStart + 17, 3), version.elementsEqual(Array("1.1".utf8)) else {
            throw .malformed(path: path, what: "unsupported ld.so.cache version")
        }
        guard let count = r.u32(newStart + 20) else {
            throw .truncated(path: path, what: "ld.so.cache header", needed: newStart + 48, size: UInt64(bytes.count))
        }
        let first = newStart + 48
        guard r.contains(first, UInt64(count) * 24) else {
            throw .truncated(path: path, what: "ld.so.cache table of \(count) entries",
                             needed: first + UInt64(count) * 24, size: UInt64(bytes.count))
        }
        let strings = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[Int(newStart)...]))
        var out: [Entry] = []
        out.reserveCapacity(Int(count))
        for i in 0..<UInt64(count) {
            let o = first + i * 24
            let flags = Int32(bitPattern: r.u32(o)!)
            guard let key = strings.cString(UInt64(r.u32(o + 4)!)),
                  let value = strings.cString(UInt64(r.u32(o + 8)!)) else {
                throw .malformed(path: path, what: "ld.so.cache entry \(i) points past the end of the file")
            }
            out.append(Entry(name: key, path: value, flags: flags, hwcap: r.u64(o + 16)!))
        }
        entries = out
    }

    public init(parsing bytes: [UInt8], path: String = defaultPath) throws(SymbolsError) {
        let copy = MappedFile(path: path, copying: bytes)
        try self.init(parsing: copy.bytes, path: path)
        withExtendedLifetime(copy) {}
    }

    /// Reads and parses the cache file (default `/etc/ld.so.cache`).
    public static func load(path: String = defaultPath) throws(SymbolsError) -> LDSOCache {
        let file = try MappedFile(path: path)
        let cache = try LDSOCache(parsing: file.bytes, path: path)
        withExtendedLifetime(file) {}
        return cache
    }

    /// The path the dynamic linker would load for exactly `name` on this host, if cached.
    /// Plain copies win over hwcap-specific ones, as for a process without those capabilities.
    public func path(forName name: String) -> String? {
        let hits = entries.filter { $0.name == name && $0.isForThisHost }
        return (hits.first { $0.hwcap == 0 } ?? hits.first)?.path
    }

    /// Offset of the new-format header: at 0, or after the old table.
    private static func newTableOffset(_ r: ByteReader) -> UInt64? {
        func isNew(_ o: UInt64) -> Bool { r.slice(o, 17)?.elementsEqual(newMagic) ?? false }
        if isNew(0) { return 0 }
        guard r.slice(0, 11)?.elementsEqual(oldMagic) ?? false, let n = r.u32(12) else { return nil }
        let (size, o1) = UInt64(n).multipliedReportingOverflow(by: 12)
        guard !o1 else { return nil }
        let aligned = (16 + size + 7) & ~7
        return isNew(aligned) ? aligned : nil
    }
}
