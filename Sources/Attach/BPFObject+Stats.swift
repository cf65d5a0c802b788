import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// What the kernel knows about one loaded program (`struct bpf_prog_info`).
public struct BPFProgramInfo: Sendable, Equatable {
    /// The program's name in the object (the C function name).
    public let name: String
    /// Kernel program id (`bpftool prog show id N`).
    public let id: UInt32
    /// Times the program ran: uprobe hits that reached it. Counted only while
    /// run-time statistics are on (`BPFRunStatistics`).
    public let runCount: UInt64
    /// Total time spent in the program, in ns (same condition).
    public let runTimeNs: UInt64
}

/// Turns on the kernel's per-program run statistics (`bpf_enable_stats(BPF_STATS_RUN_TIME)`)
/// for as long as this value lives: how hits per request are measured.
/// Costs two clock reads per program run, so only for measurement.
public final class BPFRunStatistics: Sendable {
    private let fd: Int32

    /// Enables the statistics; needs CAP_SYS_ADMIN.
    public init() throws(AttachError) {
        let fd = bpf_enable_stats(BPF_STATS_RUN_TIME)
        if fd < 0 { throw AttachError.from(errno: -fd, operation: "bpf_enable_stats(BPF_STATS_RUN_TIME)") }
        self.fd = fd
    }

    deinit { close(fd) }
}

extension BPFObject {
    /// Id and run statistics of every program of the loaded object
    /// (`bpf_obj_get_info_by_fd` on each program fd).
    public func programs() throws(AttachError) -> [BPFProgramInfo] {
        try withLoadedObject { (obj) throws(AttachError) -> [BPFProgramInfo] in
            var result: [BPFProgramInfo] = []
            var prog = bpf_object__next_program(obj, nil)
            while let p = prog {
                let name = String(cString: bpf_program__name(p))
                var info = bpf_prog_info()
                var len = UInt32(MemoryLayout<bpf_prog_info>.size)
                let rc = bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len)
                if rc < 0 { throw AttachError.from(errno: errno, operation: "bpf_obj_get_info_by_fd(\(name))") }
                result.append(BPFProgramInfo(name: name, id: info.id, runCount: info.run_cnt, runTimeNs: info.run_time_ns))
                prog = bpf_object__next_program(obj, p)
            }
            return result
        }
    }
}
