import TraceEvents

/// One uprobe: a program at a file offset of the probed file; `retprobe`
/// makes it a uretprobe (C code only: never Go, whose runtime moves stacks).
public struct UprobeSite: Sendable, Hashable {
    public let program: BPFProgramName
    public let fileOffset: UInt64
    public let retprobe: Bool

    public init(_ program: BPFProgramName, _ fileOffset: UInt64, retprobe: Bool = false) {
        self.program = program
        self.fileOffset = fileOffset
        self.retprobe = retprobe
    }
}

/// Everything needed to put one embedded BPF object to work in one file: the
/// object, its read-only config, the sites, and the maps it shares with an
/// object already loaded — or, for a family on kernel hooks, the programs to
/// attach where their `SEC()` names say.
public struct ProbeRequest: Sendable {
    public var object: EmbeddedBPFObject
    /// The file the uprobes are in, as the kernel resolves it (through /proc/PID/root for a pid).
    public var path: String
    /// Trace only this process (the BPF side filters on `ut_config.target_tgid` too);
    /// nil: every process that maps `path`, now or later.
    public var pid: Int32?
    /// `ut_cfg`; `target_tgid` is set from `pid`.
    public var config: ut_config
    public var sites: [UprobeSite]
    /// Maps to take over from an already loaded object of the same kind instead
    /// of creating them (state shared across processes, e.g. Go clients in one
    /// process and the servers they call in another).
    public var sharedMaps: [BPFMapName]
    /// Programs on kernel hooks (tracepoints, raw tracepoints), attached where
    /// their `SEC()` names say; `path` is then only for messages.
    public var kernelPrograms: [BPFProgramName]
    /// Programs of the object left out of the load (hooks this request does not use).
    public var unusedPrograms: [BPFProgramName]

    public init(object: EmbeddedBPFObject, path: String, pid: Int32?, config: ut_config = ut_config(),
                sites: [UprobeSite], sharedMaps: [BPFMapName] = [], kernelPrograms: [BPFProgramName] = [],
                unusedPrograms: [BPFProgramName] = []) {
        self.object = object
        self.path = path
        self.pid = pid
        self.config = config
        self.sites = sites
        self.sharedMaps = sharedMaps
        self.kernelPrograms = kernelPrograms
        self.unusedPrograms = unusedPrograms
    }
}

/// A loaded BPF object and its attached uprobes: the one attach path every
/// probe family (and every BPF test) takes. Open the embedded object → write
/// `ut_cfg` → use the shared ring buffer and lost counters → take over the
/// shared maps → load → attach every site; any failure detaches and unloads
/// what was done, so nothing stays behind.
public final class AttachedProbes: Sendable {
    /// The loaded object; its links are the probes.
    public let object: BPFObject
    public let request: ProbeRequest

    /// - Parameter sharingWith: the object whose `request.sharedMaps` this one reuses; nil: create them.
    /// - Parameter mode: uprobe_multi links (one per program and kind) or one perf uprobe per site;
    ///   by default the kernel's best.
    public init(_ request: ProbeRequest, shared: SharedMaps, sharingWith peer: AttachedProbes? = nil,
                mode: UprobeAttachMode = .preferred) throws(AttachError) {
        let object = try BPFObject(embedded: request.object)
        do {
            try object.setAttachMode(mode)
            var config = request.config
            config.target_tgid = request.pid.map { UInt32(bitPattern: $0) } ?? 0
            try object.setReadOnlyGlobal(CommonBPF.config, to: config)
            try object.use(shared)
            for program in request.unusedPrograms { try object.skipLoading(program) }
            if let peer {
                for map in request.sharedMaps { try object.reuseMap(map, fd: try peer.object.mapFD(map)) }
            }
            try object.load()
            // One uprobe_multi link per program and kind (entry / return) where the kernel has them.
            var groups: [(program: BPFProgramName, retprobe: Bool, offsets: [UInt64])] = []
            for site in request.sites {
                if let i = groups.firstIndex(where: { $0.program == site.program && $0.retprobe == site.retprobe }) {
                    groups[i].offsets.append(site.fileOffset)
                } else {
                    groups.append((site.program, site.retprobe, [site.fileOffset]))
                }
            }
            for g in groups {
                try object.attachUprobes(program: g.program, path: request.path, offsets: g.offsets,
                                         pid: request.pid, retprobe: g.retprobe)
            }
            for program in request.kernelPrograms { try object.attachKernelProgram(program) }
        } catch {
            object.detach()
            throw error
        }
        self.object = object
        self.request = request
    }

    /// The object's name (`go_http`, ...): the family it belongs to.
    public var name: String { object.name }

    /// Number of attached probes: uprobe sites and kernel hooks.
    public var probeCount: Int { object.attachedCount }

    /// Removes every probe and unloads the programs. Stop the reader first. Idempotent.
    public func detach() { object.detach() }

    /// Detaches all of `probes` at the same time (see `BPFObject.detach`): a
    /// tool with several objects waits about one grace period, not one per link.
    public static func detachAll(_ probes: [AttachedProbes]) {
        concurrently(probes.count) { probes[$0].detach() }
    }
}
