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

/// How full one map of a loaded object is.
public struct BPFMapUsage: Sendable, Equatable {
    /// The map's name in the object (`bpftool map show` prints it cut to 15 bytes).
    public let name: String
    /// Kernel map id: maps shared between objects (`SharedMaps`) have one id.
    public let id: UInt32
    /// Keys present now.
    public let entries: Int
    /// The map's capacity (`max_entries`).
    public let maxEntries: Int
}

extension BPFObject {
    /// Entries and capacity of every hash map of the loaded object (the maps
    /// that fill up and then refuse or evict; arrays are always full, ring
    /// buffers are reported by their lost-event counters). Counting walks the
    /// keys with `bpf_map_get_next_key`: one syscall per entry, so at most
    /// `maxEntries` (16 Ki here) per map and scrape.
    public func mapUsage() throws(AttachError) -> [BPFMapUsage] {
        try withLoadedObject { (obj) throws(AttachError) -> [BPFMapUsage] in
            var result: [BPFMapUsage] = []
            var cursor = bpf_object__next_map(obj, nil)
            while let m = cursor {
                defer { cursor = bpf_object__next_map(obj, m) }
                let type = bpf_map__type(m)
                guard [BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH].contains(type)
                else { continue }
                let fd = bpf_map__fd(m)
                var info = bpf_map_info()
                var len = UInt32(MemoryLayout<bpf_map_info>.size)
                if bpf_obj_get_info_by_fd(fd, &info, &len) < 0 {
                    throw AttachError.from(errno: errno, operation: "bpf_obj_get_info_by_fd(\(String(cString: bpf_map__name(m))))")
                }
                var key = [UInt8](repeating: 0, count: Int(info.key_size)), next = key
                var entries = 0
                var rc = bpf_map_get_next_key(fd, nil, &next)
                // Bounded: a key deleted during the walk restarts it from the first key.
                while rc == 0 && entries <= Int(info.max_entries) {
                    entries += 1
                    swap(&key, &next)
                    rc = bpf_map_get_next_key(fd, key, &next)
                }
                result.append(BPFMapUsage(name: String(cString: bpf_map__name(m)), id: info.id,
                                          entries: min(entries, Int(info.max_entries)), maxEntries: Int(info.max_entries)))
            }
            return result
        }
    }
}
