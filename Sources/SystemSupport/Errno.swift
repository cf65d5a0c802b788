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

extension Errno {
    /// The symbolic name the C library gives the value (`strerrorname_np(3)`,
    /// glibc 2.32+: "ECONNREFUSED"); "E" and the number when it has none.
    public var name: String {
        guard let f = Self.strerrorname, let s = f(code) else { return "E\(code)" }
        return String(cString: s)
    }

    /// `strerrorname_np`, looked up at run time: Glibc's module map declares it
    /// only under _GNU_SOURCE.
    private static let strerrorname: (@convention(c) (Int32) -> UnsafePointer<CChar>?)? = {
        guard let sym = dlsym(nil, "strerrorname_np") else { return nil }
        return unsafeBitCast(sym, to: (@convention(c) (Int32) -> UnsafePointer<CChar>?).self)
    }()
}
