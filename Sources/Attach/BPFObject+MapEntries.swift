import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// Reading a loaded object's hash and array maps from user space: statistics
/// the BPF side aggregates in the kernel (per-CPU counters, histograms).
extension BPFObject {
    /// Every key of `map` with its value; for a per-CPU map (`perCPU`) the
    /// value is one `valueSize` slot per possible CPU, each slot starting on an
    /// 8-byte boundary, as `bpf_map_lookup_elem` fills it. Keys are walked with
    /// `bpf_map_get_next_key`; a key deleted meanwhile is skipped.
    public func entries(_ map: BPFMapName, keySize: Int, valueSize: Int, perCPU: Bool) throws(AttachError) -> [(key: [UInt8], values: [[UInt8]])] {
        let fd = try mapFD(map)
        let cpus = perCPU ? Int(libbpf_num_possible_cpus()) : 1
        guard cpus > 0 else { throw AttachError.from(errno: -Int32(cpus), operation: "libbpf_num_possible_cpus") }
        let slot = perCPU ? (valueSize + 7) / 8 * 8 : valueSize
        var result: [(key: [UInt8], values: [[UInt8]])] = []
        var key = [UInt8](repeating: 0, count: keySize), next = key
        var value = [UInt8](repeating: 0, count: slot * cpus)
        var first = true
        while true {
            let rc = next.withUnsafeMutableBytes { n in
                key.withUnsafeBytes { k in bpf_map_get_next_key(fd, first ? nil : k.baseAddress, n.baseAddress) }
            }
            if rc < 0 {
                if errno == ENOENT { break }
                throw AttachError.from(errno: errno, operation: "bpf_map_get_next_key(\(map))")
            }
            first = false
            key = next
            let found = value.withUnsafeMutableBytes { v in key.withUnsafeBytes { bpf_map_lookup_elem(fd, $0.baseAddress, v.baseAddress) } }
            if found < 0 {
                if errno == ENOENT { continue }
                throw AttachError.from(errno: errno, operation: "bpf_map_lookup_elem(\(map))")
            }
            result.append((key, (0..<cpus).map { Array(value[($0 * slot)..<($0 * slot + valueSize)]) }))
        }
        return result
    }
}
