#if canImport(Glibc)
import Glibc
#endif

/// Random 64-bit words for trace and span ids, from the kernel's CSPRNG
/// (getentropy(3), i.e. getrandom(2), the source SystemRandomNumberGenerator
/// uses) but fetched 256 bytes per call instead of 8: at
/// tens of thousands of spans a second, one syscall per id word showed up in
/// the traced server's throughput.
final class SecureRandom: @unchecked Sendable {
    static let shared = SecureRandom()

    private let lock = Mutex()
    private var buffer = [UInt64](repeating: 0, count: 512)
    private var index = 512

    func next() -> UInt64 {
        lock.withLock {
            if index == buffer.count { refill() }
            defer { index += 1 }
            return buffer[index]
        }
    }

    private func refill() {
        buffer.withUnsafeMutableBytes { raw in
            var off = 0
            while off < raw.count {
                if getentropy(raw.baseAddress! + off, min(256, raw.count - off)) == 0 {
                    off += min(256, raw.count - off)
                } else {
                    // getrandom cannot fail on Linux ≥ 3.17 once the pool is seeded; fall back to the stdlib just in case.
                    var g = SystemRandomNumberGenerator()
                    for i in stride(from: off, to: raw.count, by: 8) { raw.storeBytes(of: g.next() as UInt64, toByteOffset: i, as: UInt64.self) }
                    off = raw.count
                }
            }
        }
        index = 0
    }
}
