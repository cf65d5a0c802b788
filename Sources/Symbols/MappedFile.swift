#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of a file, mapped read-only (`mmap(2)`), or a heap copy for
/// bytes that did not come from a file (tests, fuzzing).
///
/// The mapping lives as long as this object; parsers borrow `bytes`.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let isMapped: Bool

    /// Opens and maps `path`. Errors name the path and say what to do.
    public init(path: String) throws(SymbolsError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw Self.openError(path: path, errno: errno)
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            throw .io(path: path, operation: "fstat", errno: errno)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw .isDirectory(path: path)
        }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            isMapped = false
            return
        }
        // MAP_SHARED, not MAP_PRIVATE: the kernel writes uprobe breakpoints (0xCC)
        // into every private mapping of a probed file that could be executable,
        // read-only ones included, so a private mapping of a binary that is being
        // traced shows INT3 where RETs are. Shared mappings are left alone.
        guard let p = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw .io(path: path, operation: "mmap", errno: errno)
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
        isMapped = true
    }

    /// Copies `data`; used where the bytes do not live in a file.
    public init(path: String, copying data: some Collection<UInt8>) {
        self.path = path
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 16)
        _ = buf.initializeMemory(as: UInt8.self, from: data)
        bytes = UnsafeRawBufferPointer(start: buf.baseAddress, count: data.count)
        isMapped = false
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    static func openError(path: String, errno code: Int32) -> SymbolsError {
        switch code {
        case ENOENT, ENOTDIR: return .fileNotFound(path: path)
        case EACCES, EPERM: return .permissionDenied(path: path)
        case EISDIR: return .isDirectory(path: path)
        default: return .io(path: path, operation: "open", errno: code)
        }
    }
}
