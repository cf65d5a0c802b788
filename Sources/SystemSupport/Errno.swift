#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An `errno` value and the C library's text for it (`strerror(3)`), so every
/// module words a failed call the same way.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32

    public init(_ code: Int32) { self.code = code }

    /// The calling thread's `errno` now: read it right after the failed call.
    public static var current: Errno { Errno(errno) }

    /// `strerror(3)`: "No such file or directory".
    public var text: String {
        guard let s = strerror(code) else { return "errno \(code)" }
        return String(cString: s)
    }

    /// The text and the number: "No such file or directory (errno 2)".
    public var description: String { "\(text) (errno \(code))" }
}
