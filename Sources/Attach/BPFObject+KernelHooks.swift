import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// Programs on kernel hooks — tracepoints, raw tracepoints, kprobes, fentry —
/// whose `SEC()` name says where they go (`SEC("raw_tp/sys_enter")`,
/// `SEC("tracepoint/sock/inet_sock_set_state")`), and programs that are only
/// run on demand (`SEC("syscall")`).
extension BPFObject {
    /// Before load: leaves `program` out of the load (`bpf_program__set_autoload(false)`),
    /// for a hook the request does not use (it then needs no kernel support).
    public func skipLoading(_ program: BPFProgramName) throws(AttachError) {
        try locked { () throws(AttachError) in
            let obj = try openObject(phase: "skipping \(program)")
            guard !loaded else { throw .state("skipping \(program) after BPFObject.load()") }
            guard let prog = bpf_object__find_program_by_name(obj, program.rawValue) else {
                throw .notFound(kind: "program", name: program.rawValue, object: name)
            }
            let rc = bpf_program__set_autoload(prog, false)
            if rc < 0 { throw AttachError.from(errno: -rc, operation: "bpf_program__set_autoload(\(program), false)") }
        }
    }

    /// Attaches `program` where its `SEC()` name says (`bpf_program__attach`)
    /// and keeps the link until `detach()`; it counts as one probe.
    public func attachKernelProgram(_ program: BPFProgramName) throws(AttachError) {
        try locked { () throws(AttachError) in
            let obj = try openObject(phase: "attaching \(program)")
            guard loaded else { throw .state("attaching \(program) before BPFObject.load()") }
            guard let prog = bpf_object__find_program_by_name(obj, program.rawValue) else {
                throw .notFound(kind: "program", name: program.rawValue, object: name)
            }
            let section = String(cString: bpf_program__section_name(prog))
            guard let link = bpf_program__attach(prog) else {
                let e = errno
                if e == EPERM || e == EACCES { throw .permission(operation: "attaching \(program) (\(section))") }
                throw .kernelHook(program: program.rawValue, section: section, errno: e)
            }
            addLink(link)
        }
    }

    /// Runs the loaded `program` once (`bpf_prog_test_run_opts`, for
    /// `SEC("syscall")` programs) and returns its return value.
    @discardableResult
    public func run(_ program: BPFProgramName) throws(AttachError) -> UInt32 {
        try withLoadedObject { (obj) throws(AttachError) -> UInt32 in
            guard let prog = bpf_object__find_program_by_name(obj, program.rawValue) else {
                throw .notFound(kind: "program", name: program.rawValue, object: name)
            }
            var opts = bpf_test_run_opts()
            opts.sz = MemoryLayout<bpf_test_run_opts>.size
            let rc = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts)
            if rc < 0 { throw AttachError.from(errno: -rc, operation: "bpf_prog_test_run_opts(\(program))") }
            return opts.retval
        }
    }
}
