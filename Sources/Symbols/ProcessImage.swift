#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One file a process maps (an executable or shared library), with every
/// range it is mapped at.
///
/// Entries are grouped by device, inode and path, so two libraries with the
/// same name in different containers stay apart.
public struct MappedObject: Sendable, Hashable {
    /// The path as the process sees it (inside its mount namespace), ` (deleted)` removed.
    public let path: String
    public let device: MapEntry.Device
    public let inode: UInt64
    /// The file was unlinked after being mapped; open it through `/proc/PID/map_files`.
    public let isDeleted: Bool
    /// The mappings of this file, in address order.
    public let mappings: [MapEntry]

    public init(path: String, device: MapEntry.Device, inode: UInt64, isDeleted: Bool, mappings: [MapEntry]) {
        self.path = path
        self.device = device
        self.inode = inode
        self.isDeleted = isDeleted
        self.mappings = mappings.sorted { $0.start < $1.start }
    }

    /// The file name without directories, e.g. `libssl.so.3`.
    public var basename: String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Where file offset 0 would be in memory: `start - offset` of the lowest mapping.
    public var loadAddress: UInt64? {
        mappings.min { $0.offset < $1.offset }.map { $0.start &- $0.offset }
    }

    /// The runtime address of a file offset: `start - offset + fileOffset` of the
    /// mapping whose `[offset, offset + size)` holds it, an executable one first
    /// when a page is mapped twice; nil when no mapping covers it.
    public func runtimeAddress(forFileOffset fileOffset: UInt64) -> UInt64? {
        let holding = mappings.filter { $0.contains(fileOffset: fileOffset) }
        guard let m = holding.first(where: { $0.permissions.execute }) ?? holding.first else { return nil }
        return m.start + (fileOffset - m.offset)
    }

    /// The file offset of a runtime address inside one of this object's mappings.
    public func fileOffset(forRuntimeAddress address: UInt64) -> UInt64? {
        guard let m = mappings.first(where: { $0.contains(address: address) }) else { return nil }
        return m.offset + (address - m.start)
    }
}

/// A runtime address translated back to the file that backs it.
public struct FileLocation: Sendable, Hashable {
    public let path: String
    public let offset: UInt64
}

/// Which objects a process maps, and where: the bridge between runtime
/// addresses in a process and the file offsets uprobes attach at.
///
/// Files are opened through `/proc/PID/root/<path>` so a process in another
/// mount namespace (a container) gets its own copy of a library, and through
/// `/proc/PID/map_files/<start>-<end>` when the file was deleted after mapping.
public struct ProcessImage: Sendable {
    public let pid: Int32
    /// Every line of the process's maps, in address order.
    public let entries: [MapEntry]
    /// The file-backed objects, in order of their first mapping.
    public let objects: [MappedObject]
    /// The `/proc/PID/exe` link target with ` (deleted)` removed; nil when unreadable.
    public let mainExecutable: String?

    /// Reads `/proc/PID/maps` and `/proc/PID/exe`.
    public init(pid: Int32) throws(SymbolsError) {
        let maps = try ProcMaps.read(pid: pid)
        var exe: String?
        do throws(SymbolsError) {
            exe = try ProcFS.readLink(pid: pid, "exe")
        } catch {
            if case .noSuchProcess = error { throw error }
            // Kernel threads have no exe; unprivileged readers may be refused. The maps are still useful.
            exe = nil
        }
        if let e = exe, e.hasSuffix(" (deleted)") { exe = String(e.dropLast(" (deleted)".count)) }
        self.init(pid: pid, entries: maps.entries, mainExecutable: exe)
    }

    /// Same, for a pid given as text (`--pid 1234`).
    public init(pid text: String) throws(SymbolsError) {
        try self.init(pid: try ProcFS.parsePID(text))
    }

    /// Builds an image from already parsed entries (tests, saved maps).
    public init(pid: Int32, entries: [MapEntry], mainExecutable: String?) {
        self.pid = pid
        self.entries = entries.sorted { $0.start < $1.start }
        self.mainExecutable = mainExecutable
        struct Key: Hashable { let path: String; let device: MapEntry.Device; let inode: UInt64 }
        var order: [Key] = []
        var groups: [Key: [MapEntry]] = [:]
        for e in self.entries where e.kind == .file {
            let k = Key(path: e.path!, device: e.device, inode: e.inode)
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(e)
        }
        objects = order.map { k in
            let ms = groups[k]!
            return MappedObject(path: k.path, device: k.device, inode: k.inode,
                                isDeleted: ms.contains { $0.isDeleted }, mappings: ms)
        }
    }

    /// The object mapped from `path` (as the process sees it), if any.
    public func object(path: String) -> MappedObject? {
        objects.first { $0.path == path }
    }

    /// The object of the main executable, matched by the `/proc/PID/exe` path.
    public var mainExecutableObject: MappedObject? {
        mainExecutable.flatMap { object(path: $0) }
    }

    /// The runtime address of `fileOffset` in the object mapped from `path`.
    public func runtimeAddress(forFileOffset fileOffset: UInt64, inObject path: String) throws(SymbolsError) -> UInt64 {
        let candidates = objects.filter { $0.path == path }
        guard !candidates.isEmpty else { throw .notMapped(pid: pid, path: path) }
        for o in candidates {
            if let a = o.runtimeAddress(forFileOffset: fileOffset) { return a }
        }
        throw .notMapped(pid: pid, path: "\(path) at file offset 0x\(String(fileOffset, radix: 16))")
    }

    /// The file and offset behind a runtime address; nil for anonymous memory,
    /// pseudo regions and unmapped addresses.
    public func fileOffset(forRuntimeAddress address: UInt64) -> FileLocation? {
        guard let e = entries.first(where: { $0.contains(address: address) }), e.kind == .file, let path = e.path else {
            return nil
        }
        return FileLocation(path: path, offset: e.offset + (address - e.start))
    }

    /// Where to open `object` from this process's point of view:
    /// `/proc/PID/map_files/<start>-<end>` when deleted, else `/proc/PID/root/<path>`.
    public func accessPath(for object: MappedObject) -> String {
        if object.isDeleted, let m = object.mappings.first {
            return "/proc/\(pid)/map_files/\(m.mapFilesName)"
        }
        return "/proc/\(pid)/root" + (object.path.hasPrefix("/") ? object.path : "/" + object.path)
    }

    /// Opens and parses the ELF file behind `object` as this process maps it.
    public func openObject(_ object: MappedObject) throws(SymbolsError) -> ELFFile {
        let path = accessPath(for: object)
        do throws(SymbolsError) {
            return try ELFFile(path: path)
        } catch {
            switch error {
            case .permissionDenied: throw .processAccessDenied(pid: pid, path: path)
            case .fileNotFound where !ProcFS.exists(pid: pid): throw .noSuchProcess(pid: pid)
            default: throw error
            }
        }
    }

    /// Opens the object mapped from `path`; `notMapped` if the process does not map it.
    public func openObject(path: String) throws(SymbolsError) -> ELFFile {
        guard let o = object(path: path) else { throw .notMapped(pid: pid, path: path) }
        return try openObject(o)
    }
}
