import CLibBPF
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One BPF ELF object opened with libbpf (`struct bpf_object`), through its life:
/// open (`bpf_object__open_mem`) → set read-only globals and map sizes → `load()`
/// (`bpf_object__load`: maps created, programs verified) → `attachUprobe` any
/// number of times (`bpf_program__attach_uprobe_opts`), or `attachUprobes` with
/// many offsets at once (one uprobe_multi link in `.multi` mode, see
/// `BPFObject+UprobeMulti.swift`) → `detach()` (`bpf_link__destroy` for every
/// link, `close` for every uprobe_multi link, then `bpf_object__close`, which
/// unloads the programs and frees the maps). `deinit` detaches too.
///
/// Thread safety: every method takes an internal lock, so an object may be
/// shared with the ring-buffer reader thread. Stop readers before `detach()`.
public final class BPFObject: @unchecked Sendable {
    /// Name of the object (the `bpf/NAME.bpf.c` stem), for messages.
    public let name: String

    let lock = NSLock()
    private var object: OpaquePointer?
    /// libbpf keeps pointers into the ELF bytes until load: they live as long as we do.
    private let elf: UnsafeMutableRawBufferPointer
    private var links: [OpaquePointer] = []
    /// uprobe_multi links (`.multi` mode), closed by `detach()`.
    var multiLinks: [UprobeMultiLink] = []
    /// How programs will be attached; fixed at load (see `setAttachMode`).
    var mode: UprobeAttachMode = .preferred
    private(set) var loaded = false

    /// Opens an embedded object (`bpf_object__open_mem`).
    public convenience init(embedded: EmbeddedBPFObject) throws(AttachError) {
        try self.init(name: embedded.name, elf: embedded.bytes)
    }

    /// Opens the BPF ELF object `elf` (`bpf_object__open_mem`); nothing reaches the kernel yet.
    public init(name: String, elf bytes: [UInt8]) throws(AttachError) {
        LibBPFLog.install()
        self.name = name
        elf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { elf.copyMemory(from: $0) }
        var opts = bpf_object_open_opts()
        opts.sz = MemoryLayout<bpf_object_open_opts>.size
        let opened = name.withCString { cname -> OpaquePointer? in
            opts.object_name = cname
            return bpf_object__open_mem(elf.baseAddress, bytes.count, &opts)
        }
        guard let opened else {
            // Every stored property is set by now, so deinit runs and frees `elf`.
            throw .libbpf(operation: "bpf_object__open_mem(\(name), \(bytes.count) bytes)", errno: errno)
        }
        object = opened
    }

    deinit {
        detach()
        elf.deallocate()
    }

    // MARK: Before load

    /// Writes `value` into the read-only global `variable` (a `const volatile`
    /// in the BPF C, kept in `.rodata`) before load; the verifier then sees it
    /// as a constant. The variable's offset and size come from the object's BTF.
    public func setReadOnlyGlobal<T: BitwiseCopyable>(_ global: BPFGlobalName, to value: T) throws(AttachError) {
        let variable = global.rawValue
        try locked { () throws(AttachError) in
            let obj = try openObject(phase: "setting \(variable)")
            guard let map = bpf_object__find_map_by_name(obj, ".rodata") else {
                throw .notFound(kind: "map", name: ".rodata", object: name)
            }
            let (offset, size) = try rodataVariable(obj, variable)
            guard size == MemoryLayout<T>.size else {
                throw .layoutMismatch(name: variable, btfSize: size, swiftSize: MemoryLayout<T>.size)
            }
            var total = 0
            guard let initial = bpf_map__initial_value(map, &total), offset + size <= total else {
                throw .notFound(kind: "initial value of .rodata holding", name: variable, object: name)
            }
            var data = [UInt8](UnsafeRawBufferPointer(start: initial, count: total))
            withUnsafeBytes(of: value) { src in
                data.withUnsafeMutableBytes { dst in
                    dst.baseAddress!.advanced(by: offset).copyMemory(from: src.baseAddress!, byteCount: size)
                }
            }
            let rc = data.withUnsafeBytes { bpf_map__set_initial_value(map, $0.baseAddress, total) }
            if rc < 0 { throw AttachError.from(errno: -rc, operation: "bpf_map__set_initial_value(.rodata)") }
        }
    }

    /// Sets a map's size before load (`bpf_map__set_max_entries`); for a ring
    /// buffer, the size in bytes (a power of two, a multiple of the page size).
    public func setMaxEntries(map: BPFMapName, _ entries: UInt32) throws(AttachError) {
        try beforeLoad(map: map.rawValue, "bpf_map__set_max_entries(\(map), \(entries))") { bpf_map__set_max_entries($0, entries) }
    }

    /// Before load: map `mapName` will be the existing map `fd` (same type and
    /// sizes) instead of a new one (`bpf_map__reuse_fd`, which dups `fd`).
    public func reuseMap(_ map: BPFMapName, fd: Int32) throws(AttachError) {
        try beforeLoad(map: map.rawValue, "bpf_map__reuse_fd(\(map))") { bpf_map__reuse_fd($0, fd) }
    }

    /// Runs libbpf call `body` (returning 0 or -errno) on map `mapName` of the opened object.
    private func beforeLoad(map mapName: String, _ operation: String, _ body: (OpaquePointer) -> Int32) throws(AttachError) {
        try locked { () throws(AttachError) in
            let obj = try openObject(phase: operation)
            guard let map = bpf_object__find_map_by_name(obj, mapName) else {
                throw .notFound(kind: "map", name: mapName, object: name)
            }
            let rc = body(map)
            if rc < 0 { throw AttachError.from(errno: -rc, operation: operation) }
        }
    }

    /// Creates the maps and loads every program into the kernel (`bpf_object__load`).
    public func load() throws(AttachError) {
        try locked { () throws(AttachError) in
            let obj = try openObject(phase: "load")
            if mode == .multi { try prepareForUprobeMulti(obj) }
            LibBPFLog.clear()
            let rc = bpf_object__load(obj)
            if rc < 0 {
                let e = -rc
                if e == EPERM || e == EACCES { throw .permission(operation: "bpf_object__load(\(name))") }
                throw .load(object: name, errno: e, log: LibBPFLog.recent)
            }
            loaded = true
        }
    }

    // MARK: After load

    /// Attaches program `program` as a uprobe at file offset `offset` of the
    /// ELF file `path`, for process `pid` (nil: every process that maps the
    /// file, now or later). `retprobe` makes it a uretprobe: never for Go code.
    /// Calls `bpf_program__attach_uprobe_opts` and keeps the link until `detach()`.
    /// In `.multi` mode the probe is a uprobe_multi link with one site.
    public func attachUprobe(program: BPFProgramName, path: String, offset: UInt64, pid: Int32? = nil, retprobe: Bool = false) throws(AttachError) {
        if attachMode == .multi {
            return try attachUprobes(program: program, path: path, offsets: [offset], pid: pid, retprobe: retprobe)
        }
        try attachPerfUprobe(program: program.rawValue, path: path, offset: offset, cookie: 0, pid: pid, retprobe: retprobe)
    }

    /// One perf-event uprobe (`bpf_program__attach_uprobe_opts`) whose
    /// `bpf_get_attach_cookie` is `cookie`.
    func attachPerfUprobe(program: String, path: String, offset: UInt64, cookie: UInt64, pid: Int32?, retprobe: Bool) throws(AttachError) {
        try locked { () throws(AttachError) in
            let obj = try openObject(phase: "attaching \(program)")
            guard loaded else { throw .state("attaching \(program) before BPFObject.load()") }
            guard let prog = bpf_object__find_program_by_name(obj, program) else {
                throw .notFound(kind: "program", name: program, object: name)
            }
            // LIBBPF_OPTS is a macro: zero the struct by hand and say how big it is.
            var opts = bpf_uprobe_opts()
            opts.sz = MemoryLayout<bpf_uprobe_opts>.size
            opts.retprobe = retprobe
            opts.bpf_cookie = cookie
            let target = pid ?? -1
            guard let link = bpf_program__attach_uprobe_opts(prog, target, path, Int(offset), &opts) else {
                let e = errno
                if e == EPERM || e == EACCES {
                    throw .permission(operation: "attaching uprobe \(program) at \(path)+0x\(String(offset, radix: 16))")
                }
                throw .uprobe(program: program, path: path, offset: offset, pid: target, errno: e)
            }
            links.append(link)
        }
    }

    /// Keeps `link` until `detach()`; the caller holds the lock.
    func addLink(_ link: OpaquePointer) { links.append(link) }

    /// How many probe sites are attached: one per perf uprobe, `siteCount`
    /// per uprobe_multi link.
    public var attachedCount: Int { lock.withLock { links.count + multiLinks.reduce(0) { $0 + $1.siteCount } } }

    /// The file descriptor of map `mapName` (owned by the object: do not close it).
    public func mapFD(_ map: BPFMapName) throws(AttachError) -> Int32 {
        let mapName = map.rawValue
        return try locked { () throws(AttachError) -> Int32 in
            let obj = try openObject(phase: "map \(mapName)")
            guard loaded else { throw .state("map \(mapName) used before BPFObject.load()") }
            guard let map = bpf_object__find_map_by_name(obj, mapName) else {
                throw .notFound(kind: "map", name: mapName, object: name)
            }
            return bpf_map__fd(map)
        }
    }

    /// Destroys every link (the uprobes go away) and closes the object (programs
    /// unloaded, maps freed). Idempotent.
    ///
    /// The links go concurrently: each one's release waits for an RCU grace
    /// period in the kernel (`uprobe_unregister_sync` for a uprobe_multi link,
    /// one per perf uprobe), and waits that overlap share grace periods, where
    /// one after another they add up (~40 ms per uprobe_multi link, ~150 ms per
    /// perf uprobe on a loaded KVM guest).
    public func detach() {
        lock.withLock {
            let perf = links.map { UnsafeSendable($0) }, multi = multiLinks
            concurrently(perf.count + multi.count) { i in
                if i < perf.count { bpf_link__destroy(perf[i].value) } else { multi[i - perf.count].close() }
            }
            links.removeAll()
            multiLinks.removeAll()
            if let object { bpf_object__close(object) }
            object = nil
            loaded = false
        }
    }

    /// Runs `body` with the loaded `struct bpf_object *`, under the lock.
    func withLoadedObject<R>(_ body: (OpaquePointer) throws(AttachError) -> R) throws(AttachError) -> R {
        try locked { () throws(AttachError) -> R in
            let obj = try openObject(phase: "query")
            guard loaded else { throw .state("BPF object \(name) queried before load()") }
            return try body(obj)
        }
    }

    // MARK: Private

    func locked<R>(_ body: () throws(AttachError) -> R) throws(AttachError) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    func openObject(phase: String) throws(AttachError) -> OpaquePointer {
        guard let object else { throw .state("\(phase) on BPF object \(name) after detach()") }
        return object
    }

    /// Offset and size of global `variable` inside `.rodata`, from the object's BTF
    /// (libbpf has fixed up the DATASEC offsets at open).
    private func rodataVariable(_ obj: OpaquePointer, _ variable: String) throws(AttachError) -> (Int, Int) {
        guard let btf = bpf_object__btf(obj) else {
            throw .notFound(kind: "BTF (compile with -g)", name: variable, object: name)
        }
        let sec = btf__find_by_name_kind(btf, ".rodata", btfKindDatasec)
        guard sec > 0, let type = btf__type_by_id(btf, UInt32(sec)) else {
            throw .notFound(kind: "BTF section", name: ".rodata", object: name)
        }
        let vars = btf_var_secinfos(type)!
        for i in 0..<Int(btf_vlen(type)) {
            let info = vars[i]
            guard let varType = btf__type_by_id(btf, info.type),
                  let cname = btf__name_by_offset(btf, varType.pointee.name_off),
                  String(cString: cname) == variable else { continue }
            return (Int(info.offset), Int(info.size))
        }
        throw .notFound(kind: "read-only global", name: variable, object: name)
    }
}

/// BTF_KIND_DATASEC of <linux/btf.h> (a stable UAPI value): the name is
/// imported twice (btf.h's anonymous enum and libbpf's), which Swift finds ambiguous.
private let btfKindDatasec: UInt32 = 15

/// A libbpf pointer handed to another thread; each is used by exactly one.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Runs `body(0..<count)`, each on its own thread, and returns when all have:
/// for calls that mostly wait in the kernel (so no pool as wide as the CPUs).
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    guard count > 1 else {
        if count == 1 { body(0) }
        return
    }
    let done = DispatchGroup()
    for i in 0..<count {
        done.enter()
        Thread { body(i); done.leave() }.start()
    }
    done.wait()
}
