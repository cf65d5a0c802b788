#if canImport(Glibc)
import Glibc
#endif
import CLibBPF

/// A plain uprobe made by `perf_event_open(2)` on the uprobe PMU, with no BPF
/// program: what `uprobe_permission` asks the kernel for, and the probe-cost counter.
enum UprobePerfEvent {
    /// Opens a counting uprobe on the instruction at `offset` in the file `path`,
    /// close-on-exec, on any CPU.
    ///
    /// - Parameter pid: the process to probe; 0 for the calling thread.
    /// - Returns: the descriptor, or -1 with `errno` set.
    static func open(pmuType: UInt32, path: String, offset: UInt64, pid: Int32) -> Int32 {
        var attr = perf_event_attr()
        attr.size = UInt32(MemoryLayout<perf_event_attr>.size)
        attr.type = pmuType
        attr.config2 = offset
        return path.withCString { p -> Int32 in
            attr.config1 = UInt64(UInt(bitPattern: p))
            return uprobe_trace_perf_event_open(&attr, pid, -1, -1, UInt(PERF_FLAG_FD_CLOEXEC))
        }
    }
}
