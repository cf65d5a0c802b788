#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemSupport

/// Small readers for `/proc/PID/...` files, mapping errno to `SymbolsError`
/// cases that name the pid.
///
/// procfs files report size 0, so they are read with `read(2)` until EOF
/// (`FileDescriptorIO.readFile`) rather than mapped.
enum ProcFS {
    /// Parses a pid given as text: a positive decimal number (`parseProcessID`), or `self`.
    static func parsePID(_ text: String) throws(SymbolsError) -> Int32 {
        if text == "self" { return getpid() }
        guard let pid = parseProcessID(text) else { throw .invalidPID(text) }
        return pid
    }

    static func directory(pid: Int32) -> String { "/proc/\(pid)" }

    /// The whole contents of `/proc/PID/<name>`.
    static func contents(pid: Int32, _ name: String) throws(SymbolsError) -> [UInt8] {
        guard pid > 0 else { throw .invalidPID(String(pid)) }
        let path = "\(directory(pid: pid))/\(name)"
        switch FileDescriptorIO.readFile(path) {
        case .success(let bytes): return bytes
        case .failure(let e): throw error(pid: pid, path: path, errno: e.code)
        }
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
