#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a system call again for as long as it fails with EINTR: the one place
/// this loop lives. `call` returns the call's result, negative on failure with
/// `errno` set (`read`, `write`, `send`, `recv`, `poll`, ...).
@inlinable
public func retryingEINTR<R: BinaryInteger>(_ call: () -> R) -> R {
    while true {
        let r = call()
        if r < 0 && errno == EINTR { continue }
        return r
    }
}

/// Whole-buffer `read(2)` and `write(2)` on a file descriptor.
public enum FileDescriptorIO {
    /// `write(2)` until every byte is out. Returns nil, or the errno that stopped it.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Errno? {
        guard var p = bytes.baseAddress else { return nil }
        var left = bytes.count
        while left > 0 {
            let n = retryingEINTR { write(fd, p, left) }
            if n < 0 { return .current }
            // write(2) of a non-empty buffer returns 0 only for a broken device: give up.
            if n == 0 { return Errno(EIO) }
            p += n
            left -= n
        }
        return nil
    }

    /// `write(2)` of a string's UTF-8 until every byte is out.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ text: String) -> Errno? {
        var text = text
        return text.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    /// `read(2)` until end of file. procfs and sysfs files report size 0, so
    /// they are read this way rather than mapped.
    public static func readToEnd(_ fd: Int32, chunkSize: Int = 64 * 1024) -> Result<[UInt8], Errno> {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let n = retryingEINTR { chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
            if n < 0 { return .failure(.current) }
            if n == 0 { return .success(out) }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// The whole file at `path` (opened read-only, close-on-exec).
    public static func readFile(_ path: String, chunkSize: Int = 64 * 1024) -> Result<[UInt8], Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return .failure(.current) }
        defer { close(fd) }
        return readToEnd(fd, chunkSize: chunkSize)
    }
}
