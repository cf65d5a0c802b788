import CLibBPF
import TraceEvents
#if canImport(Glibc)
import Glibc
#endif

extension BPFObject {
    /// Events the BPF side could not put into the ring buffer (it was full), per
    /// probe family: the `ut_lost` per-CPU array (index = `enum ut_probe_family`)
    /// summed over CPUs. `bpf_map_lookup_elem` on a per-CPU map fills one
    /// 8-byte slot per possible CPU (`libbpf_num_possible_cpus`).
    public func lostEvents() throws(AttachError) -> [UInt64] {
        let fd = try mapFD("ut_lost")
        let cpus = Int(libbpf_num_possible_cpus())
        guard cpus > 0 else { throw AttachError.from(errno: -Int32(cpus), operation: "libbpf_num_possible_cpus") }
        var totals: [UInt64] = []
        var values = [UInt64](repeating: 0, count: cpus)
        for family in 0..<UInt32(UT_FAMILY_COUNT.rawValue) {
            var key = family
            let rc = values.withUnsafeMutableBytes { bpf_map_lookup_elem(fd, &key, $0.baseAddress) }
            if rc < 0 { throw AttachError.from(errno: errno, operation: "bpf_map_lookup_elem(ut_lost[\(family)])") }
            totals.append(values.reduce(0, &+))
        }
        return totals
    }

    /// Lost events of one probe family.
    public func lostEvents(family: ut_probe_family) throws(AttachError) -> UInt64 {
        let all = try lostEvents()
        let i = Int(family.rawValue)
        return i < all.count ? all[i] : 0
    }
}
