import Attach
import Synchronization

/// The running kernel's syscall names by number, not a table of ours that
/// drifts: `syscall_names.bpf.c` copies them, once, from the kernel's own
/// syscall metadata behind its ftrace syscall events, whose numbers the
/// kernel filled in at boot from its syscall table.
public struct SyscallNames: Sendable {
    /// name by number; numbers the kernel has no metadata for are absent.
    public let byNumber: [UInt32: String]

    public init(byNumber: [UInt32: String]) { self.byNumber = byNumber }

    /// "getppid" for 110 on x86-64; "syscall_N" for a number without a name.
    public func name(_ nr: UInt32) -> String { byNumber[nr] ?? "syscall_\(nr)" }

    /// Loads `syscall_names.bpf.c`, runs it on this thread while
    /// syscalls:sys_enter_getppid is open here as a perf event (its way into
    /// the list of trace events), and reads its map. Needs root and tracefs.
    public static func read() throws(AttachError) -> SyscallNames {
        let object = try BPFObject(embedded: syscall_names_bpf.object)
        defer { object.detach() }
        try object.load()
        let walked = try TracepointPerfEvent.whileOpen(category: "syscalls", name: "sys_enter_getppid") { () throws(AttachError) in
            try object.run(syscall_names_bpf.progs.system_read_syscall_names)
        }
        guard walked > 0 else { throw .state("the kernel's trace events could not be walked from this thread's perf event") }
        var names: [UInt32: String] = [:]
        for (key, values) in try object.entries(syscall_names_bpf.maps.system_syscall_names, keySize: 4, valueSize: 32, perCPU: false) {
            let nr = key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let bytes = values[0].prefix { $0 != 0 }
            guard !bytes.isEmpty else { continue }
            var name = String(decoding: bytes, as: UTF8.self)
            if name.hasPrefix("sys_") { name.removeFirst(4) }
            names[nr] = name
        }
        guard !names.isEmpty else { throw .state("none of the kernel's \(walked) trace events was a syscall event with a number") }
        return SyscallNames(byNumber: names)
    }

    private static let cache = Mutex<SyscallNames?>(nil)

    /// `read()` once per process; on failure, numbers only (and the error, once).
    public static func shared(onError: (any Error) -> Void = { _ in }) -> SyscallNames {
        cache.withLock { cached in
            if let cached { return cached }
            let names: SyscallNames
            do { names = try read() } catch {
                onError(error)
                names = SyscallNames(byNumber: [:])
            }
            cached = names
            return names
        }
    }
}
