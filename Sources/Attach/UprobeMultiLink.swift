import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// How an object's uprobe programs reach their probe sites.
public enum UprobeAttachMode: String, Sendable, CaseIterable {
    /// One uprobe_multi link (Linux 6.6+) per `attachUprobes` call, whatever
    /// the number of sites: one syscall to attach, one RCU wait to detach, and
    /// only CAP_BPF + CAP_PERFMON needed. Programs are loaded with
    /// expected_attach_type BPF_TRACE_UPROBE_MULTI and can attach no other way.
    case multi
    /// One perf-event uprobe per site (`bpf_program__attach_uprobe_opts`):
    /// works on every kernel uprobe-trace supports, costs ~150 ms per site to
    /// detach, and needs CAP_SYS_ADMIN on Linux 6.16+.
    case perf

    /// The mode new `BPFObject`s start in: `.multi` when
    /// `KernelFeatures.uprobeMulti` found that links work here, else `.perf`.
    /// Decided once per process.
    public static var preferred: UprobeAttachMode {
        KernelFeatures.uprobeMulti.isAvailable ? .multi : .perf
    }
}

/// Kernel ABI of uprobe_multi links (include/uapi/linux/bpf.h, Linux 6.6),
/// written out here because the headers libbpf 1.1 ships predate them.
enum UprobeMultiABI {
    /// `BPF_LINK_CREATE` in `enum bpf_cmd`.
    static let linkCreateCommand: Int32 = 28
    /// `BPF_TRACE_UPROBE_MULTI` in `enum bpf_attach_type`.
    static let attachType: UInt32 = 48
    /// `BPF_F_UPROBE_MULTI_RETURN`: every site is a uretprobe.
    static let returnFlag: UInt32 = 1
    /// Bytes of `union bpf_attr` up to and including `link_create.uprobe_multi.pid`.
    static let attrSize = 64

    /// `link_create` with its `uprobe_multi` member, at the kernel's offsets:
    /// prog_fd 0, target_fd 4, attach_type 8, flags 12, then from 16 path,
    /// offsets, ref_ctr_offsets, cookies (user pointers as u64), cnt 48,
    /// flags 52, pid 56.
    struct Attr {
        var progFD: UInt32 = 0
        var targetFD: UInt32 = 0
        var attachType: UInt32 = UprobeMultiABI.attachType
        var linkFlags: UInt32 = 0
        var path: UInt64 = 0
        var offsets: UInt64 = 0
        var refCtrOffsets: UInt64 = 0
        var cookies: UInt64 = 0
        var count: UInt32 = 0
        var flags: UInt32 = 0
        var pid: UInt32 = 0
        var padding: UInt32 = 0
    }
}

/// One uprobe_multi link: a BPF program attached at `siteCount` file offsets
/// of one file. The link lives as long as its file descriptor; `close()`
/// unregisters every site at once.
struct UprobeMultiLink {
    /// The link's file descriptor (`bpf_link` in the kernel).
    let fd: Int32
    /// Number of probe sites (offsets) the link holds.
    let siteCount: Int

    /// Creates the link with `bpf(BPF_LINK_CREATE)`, attach type
    /// BPF_TRACE_UPROBE_MULTI. `programFD` must have been loaded with that
    /// expected attach type. `cookies`, when given, has one value per offset and
    /// is what `bpf_get_attach_cookie` returns at that site. `pid` nil: every
    /// process that maps `path`. Returns the errno on failure.
    static func create(programFD: Int32, path: String, offsets: [UInt64], cookies: [UInt64]?,
                       pid: Int32?, retprobe: Bool) -> Result<UprobeMultiLink, Errno> {
        precondition(cookies == nil || cookies!.count == offsets.count, "one cookie per offset")
        var attr = UprobeMultiABI.Attr()
        attr.progFD = UInt32(bitPattern: programFD)
        attr.count = UInt32(offsets.count)
        attr.flags = retprobe ? UprobeMultiABI.returnFlag : 0
        attr.pid = pid.map { UInt32(bitPattern: $0) } ?? 0
        let fd = path.withCString { cpath in
            offsets.withUnsafeBufferPointer { offs in
                (cookies ?? []).withUnsafeBufferPointer { cks in
                    attr.path = UInt64(UInt(bitPattern: cpath))
                    attr.offsets = UInt64(UInt(bitPattern: offs.baseAddress))
                    attr.cookies = cookies == nil ? 0 : UInt64(UInt(bitPattern: cks.baseAddress))
                    return withUnsafeMutableBytes(of: &attr) { raw in
                        precondition(raw.count == UprobeMultiABI.attrSize)
                        return uprobe_trace_bpf(UprobeMultiABI.linkCreateCommand, raw.baseAddress, UInt32(raw.count))
                    }
                }
            }
        }
        if fd < 0 { return .failure(Errno(errno)) }
        return .success(UprobeMultiLink(fd: fd, siteCount: offsets.count))
    }

    /// Closes the link's file descriptor: the kernel unregisters all sites.
    func close() { _ = Glibc.close(fd) }
}

/// An errno value, for results that are not yet an `AttachError`.
struct Errno: Error, Equatable {
    let code: Int32
    init(_ code: Int32) { self.code = code }
    var isPermission: Bool { code == EPERM || code == EACCES }
}
