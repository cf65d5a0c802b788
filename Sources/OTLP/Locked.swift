import Foundation

/// A value behind an `NSLock`. (`Synchronization.Mutex` would need macOS 15 while the package
/// declares macOS 13.) Closures run with the lock held: keep them short and never await.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
