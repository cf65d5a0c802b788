#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Converts the kernel's CLOCK_BOOTTIME nanoseconds (what BPF's
/// `bpf_ktime_get_boot_ns()` returns) to wall-clock Unix nanoseconds.
///
/// The offset REALTIME − BOOTTIME is measured as the tightest of several
/// back-to-back reads (the pair whose surrounding BOOTTIME reads are closest,
/// so a preemption between them cannot skew it) and re-measured on demand
/// (`refresh()`), e.g. periodically, to follow NTP steps.
public final class BootClock: Sendable {
    private let offset: Mutex<Int64>

    public init() {
        offset = Mutex(BootClock.measureOffset())
    }

    /// Wall-clock nanoseconds since the Unix epoch for a CLOCK_BOOTTIME reading.
    public func unixNanos(fromBoot boot: UInt64) -> UInt64 {
        let o = offset.withLock { $0 }
        let v = Int64(bitPattern: boot) &+ o
        return v > 0 ? UInt64(v) : 0
    }

    /// Measures the offset again.
    public func refresh() {
        let o = BootClock.measureOffset()
        offset.withLock { $0 = o }
    }

    /// REALTIME − BOOTTIME in ns, from the tightest of `samples` bracketed reads.
    public static func measureOffset(samples: Int = 16) -> Int64 {
        var best: (width: Int64, offset: Int64) = (.max, 0)
        for _ in 0..<samples {
            let b1 = now(CLOCK_BOOTTIME)
            let r = now(CLOCK_REALTIME)
            let b2 = now(CLOCK_BOOTTIME)
            let width = b2 - b1
            if width < best.width {
                best = (width, r - (b1 + width / 2))
            }
        }
        return best.offset
    }

    /// Current CLOCK_BOOTTIME in ns (what BPF sees now).
    public static func bootNanos() -> UInt64 { UInt64(now(CLOCK_BOOTTIME)) }

    static func now(_ clock: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
