import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

extension BPFObject {
    /// How this object's programs are attached (see `UprobeAttachMode`).
    /// Starts as `UprobeAttachMode.preferred`.
    public var attachMode: UprobeAttachMode { lock.withLock { mode } }

    /// Chooses, before `load()`, how the programs will be attached. `.multi`
    /// loads every uprobe program with expected_attach_type
    /// BPF_TRACE_UPROBE_MULTI (`bpf_program__set_expected_attach_type`), after
    /// which the kernel refuses to attach them as perf uprobes, and the other
    /// way round.
    public func setAttachMode(_ newMode: UprobeAttachMode) throws(AttachError) {
        try locked { () throws(AttachError) in
            _ = try openObject(phase: "setting the attach mode")
            guard !loaded else { throw .state("setting the attach mode of \(name) after BPFObject.load()") }
            mode = newMode
        }
    }

    /// Attaches program `program` at every file offset in `offsets` of the ELF
    /// file `path`, for process `pid` (nil: every process that maps the file,
    /// now or later); `retprobe` makes every site a uretprobe (never for Go
    /// code). `cookies`, one per offset, are what `bpf_get_attach_cookie`
    /// returns at each site (nil: 0 everywhere).
    ///
    /// `.multi`: one uprobe_multi link for all sites (`bpf(BPF_LINK_CREATE)`,
    /// all or nothing). `.perf`: one `bpf_program__attach_uprobe_opts` per
    /// site; if one fails, the sites before it stay attached until `detach()`.
    /// Either way `attachedCount` grows by `offsets.count`.
    public func attachUprobes(program programName: BPFProgramName, path: String, offsets: [UInt64], cookies: [UInt64]? = nil,
                              pid: Int32? = nil, retprobe: Bool = false) throws(AttachError) {
        let program = programName.rawValue
        if let cookies, cookies.count != offsets.count {
            throw .state("attachUprobes(\(program)) with \(offsets.count) offsets but \(cookies.count) cookies")
        }
        guard !offsets.isEmpty else { return }
        guard attachMode == .multi else {
            for (i, offset) in offsets.enumerated() {
                try attachPerfUprobe(program: program, path: path, offset: offset, cookie: cookies?[i] ?? 0,
                                     pid: pid, retprobe: retprobe)
            }
            return
        }
        try locked { () throws(AttachError) in
            let obj = try openObject(phase: "attaching \(program)")
            guard loaded else { throw .state("attaching \(program) before BPFObject.load()") }
            guard let prog = bpf_object__find_program_by_name(obj, program) else {
                throw .notFound(kind: "program", name: program, object: name)
            }
            switch UprobeMultiLink.create(programFD: bpf_program__fd(prog), path: path, offsets: offsets,
                                          cookies: cookies, pid: pid, retprobe: retprobe) {
            case .success(let link):
                multiLinks.append(link)
            case .failure(let e) where e.isPermission:
                throw .permission(operation: "bpf(BPF_LINK_CREATE) of a uprobe_multi link for \(program) at \(offsets.count) sites of \(path)")
            case .failure(let e):
                throw .uprobeMulti(program: program, path: path, sites: offsets.count, pid: pid ?? -1, errno: e.code)
            }
        }
    }

    /// Marks every uprobe program (kprobe type) of the opened object for
    /// uprobe_multi links; called by `load()` in `.multi` mode.
    func prepareForUprobeMulti(_ obj: OpaquePointer) throws(AttachError) {
        var prog = bpf_object__next_program(obj, nil)
        while let p = prog {
            if bpf_program__type(p) == BPF_PROG_TYPE_KPROBE {
                let rc = bpf_program__set_expected_attach_type(p, bpf_attach_type(rawValue: UprobeMultiABI.attachType))
                if rc < 0 {
                    throw AttachError.from(errno: -rc, operation: "bpf_program__set_expected_attach_type(\(String(cString: bpf_program__name(p))), BPF_TRACE_UPROBE_MULTI)")
                }
            }
            prog = bpf_object__next_program(obj, p)
        }
    }
}
