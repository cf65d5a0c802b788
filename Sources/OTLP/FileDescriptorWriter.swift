#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `write(2)` until every byte is out, retrying on EINTR: the one place this loop lives.
enum FileDescriptorWriter {
    /// Returns 0, or the errno that stopped the write.
    @discardableResult
    static func writeAll(fd: Int32, _ text: String) -> Int32 {
        var text = text
        return text.withUTF8 { buf -> Int32 in
            var done = 0
            while done < buf.count {
                let n = write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return 0
        }
    }
}
