import CLibBPF
import TraceEvents
#if canImport(Glibc)
import Glibc
#endif

extension BPFObject {
    /// Events the BPF side could not put into the ring buffer (it was full), per
    /// probe family: the `ut_lost` per-CPU array (index = `enum ut_probe_family`)
    /// summed over CPUs.
    public func lostEvents() throws(AttachError) -> [UInt64] {
        try lostCounts(fd: try mapFD("ut_lost"))
    }

    /// Lost events of one probe family.
    public func lostEvents(family: ut_probe_family) throws(AttachError) -> UInt64 {
        let all = try lostEvents()
        let i = Int(family.rawValue)
        return i < all.count ? all[i] : 0
    }
}
