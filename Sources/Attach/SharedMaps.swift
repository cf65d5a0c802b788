import CLibBPF
import TraceEvents
#if canImport(Glibc)
import Glibc
#endif

/// The maps of common.bpf.h created once and shared by every probe family the
/// tool loads (`bpf_map__reuse_fd` before each object's load): one ring buffer,
/// so that events of all families reach user space in the order the kernel
/// reserved them — a MySQL query's event after the TLS read that started the
/// request it serves, before the write that ends it — and one per-family
/// lost-event counter array, read once.
public final class SharedMaps: Sendable {
    /// `ut_events`: BPF_MAP_TYPE_RINGBUF.
    public let eventsFD: Int32
    /// `ut_lost`: BPF_MAP_TYPE_PERCPU_ARRAY, index = `enum ut_probe_family`.
    public let lostFD: Int32
    public let ringBufferBytes: UInt32

    /// The ring buffer's default size: 4 MiB, as common.bpf.h declares it.
    public static let defaultRingBufferBytes: UInt32 = 1 << 22

    /// Creates both maps. `ringBufferBytes` must be a power of two and a multiple of the page size.
    public init(ringBufferBytes: UInt32 = SharedMaps.defaultRingBufferBytes) throws(AttachError) {
        LibBPFLog.install()
        let events = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ut_events", 0, 0, ringBufferBytes, nil)
        guard events >= 0 else { throw Self.createError(errno, "ut_events (ring buffer, \(ringBufferBytes) bytes)") }
        let lost = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "ut_lost", 4, 8, UInt32(UT_FAMILY_COUNT.rawValue), nil)
        guard lost >= 0 else {
            let e = errno
            close(events)
            throw Self.createError(e, "ut_lost")
        }
        eventsFD = events
        lostFD = lost
        self.ringBufferBytes = ringBufferBytes
    }

    deinit {
        close(eventsFD)
        close(lostFD)
    }

    /// Events the BPF side could not put into the ring buffer, per probe family
    /// (index = `enum ut_probe_family`), summed over CPUs.
    public func lostEvents() throws(AttachError) -> [UInt64] {
        try lostCounts(fd: lostFD)
    }

    private static func createError(_ e: Int32, _ what: String) -> AttachError {
        if e == EPERM || e == EACCES { return .permission(operation: "bpf_map_create(\(what))") }
        return .libbpf(operation: "bpf_map_create(\(what))", errno: e)
    }
}

/// Sums the per-CPU slots of each family's entry of a `ut_lost` array.
/// `bpf_map_lookup_elem` on a per-CPU map fills one 8-byte slot per possible
/// CPU (`libbpf_num_possible_cpus`).
func lostCounts(fd: Int32) throws(AttachError) -> [UInt64] {
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

extension BPFObject {
    /// Before load: makes the object use `shared`'s ring buffer and lost counters
    /// instead of creating its own (`bpf_map__reuse_fd`).
    public func use(_ shared: SharedMaps) throws(AttachError) {
        try reuseMap(CommonBPF.events, fd: shared.eventsFD)
        try reuseMap(CommonBPF.lost, fd: shared.lostFD)
    }
}
