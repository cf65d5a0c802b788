#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Small readers for `/proc/PID/...` files, mapping errno to `SymbolsError`
/// cases that name the pid.
///
/// procfs files report size 0, so they are read with `read(2)` until EOF
/// rather than mapped; EINTR is retried here and nowhere else.
enum ProcFS {
    /// Parses a pid given as text: a positive decimal number, or `self`.
    static func parsePID(_ text: String) throws(SymbolsError) -> Int32 {
        let t = text.trimmingBlanks()
        if t == "self" { return getpid() }
        guard !t.isEmpty, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let v = Int32(t), v > 0 else { throw .invalidPID(text) }
        return v
    }

    static func directory(pid: Int32) -> String { "/proc/\(pid)" }

    /// The whole contents of `/proc/PID/<name>`.
    static func contents(pid: Int32, _ name: String) throws(SymbolsError) -> [UInt8] {
        guard pid > 0 else { throw .invalidPID(String(pid)) }
        let path = "\(directory(pid: pid))/\(name)"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw error(pid: pid, path: path, errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw error(pid: pid, path: path, errno: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// The target of a symlink such as `/proc/PID/exe`.
    static func readLink(pid: Int32, _ name: String) throws(SymbolsError) -> String {
        guard pid > 0 else { throw .invalidPID(String(pid)) }
        let path = "\(directory(pid: pid))/\(name)"
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buf, buf.count - 1)
        if n < 0 { throw error(pid: pid, path: path, errno: errno) }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `/proc/PID` exists at all (to tell a gone process from a missing file).
    static func exists(pid: Int32) -> Bool {
        var st = stat()
        return stat(directory(pid: pid), &st) == 0
    }

    static func error(pid: Int32, path: String, errno code: Int32) -> SymbolsError {
        switch code {
        case ENOENT, ESRCH:
            return exists(pid: pid) ? .fileNotFound(path: path) : .noSuchProcess(pid: pid)
        case EACCES, EPERM: return .processAccessDenied(pid: pid, path: path)
        default: return .io(path: path, operation: "read", errno: code)
        }
    }
}

private extension String {
    func trimmingBlanks() -> String {
        let u = utf8
        guard let first = u.firstIndex(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0a }) else { return "" }
        let last = u.lastIndex(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0a })!
        return String(self[first...last])
    }
}
