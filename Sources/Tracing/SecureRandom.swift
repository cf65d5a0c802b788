#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Random 64-bit words for trace and span ids, from the kernel's CSPRNG
/// (getentropy(3), i.e. getrandom(2), the source SystemRandomNumberGenerator
/// uses) but fetched 256 bytes per call instead of 8: at
/// tens of thousands of spans a second, one syscall per id word showed up in
/// the traced server's throughput.
final class SecureRandom: Sendable {
    static let shared = SecureRandom()

    private struct Pool {
        var buffer = [UInt64](repeating: 0, count: 512)
        var index = 512
    }
    private let pool = Mutex(Pool())

    func next() -> UInt64 {
        pool.withLock { p in
            if p.index == p.buffer.count { SecureRandom.refill(&p) }
            defer { p.index += 1 }
            return p.buffer[p.index]
        }
    }

    private static func refill(_ p: inout Pool) {
        p.buffer.withUnsafeMutableBytes { raw in
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
        p.index = 0
    }
}
