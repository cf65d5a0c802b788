import CLibBPF
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tracepoint opened as a disabled, counting perf event on the calling
/// thread: no program, no samples. What makes a trace event reachable from the
/// thread's task (`current->perf_event_ctxp`) for a BPF program run on it.
public enum TracepointPerfEvent {
    /// Where tracefs is mounted, in the order tried.
    static let tracefs = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

    /// The event's id from tracefs (`events/CATEGORY/NAME/id`).
    public static func id(category: String, name: String) throws(AttachError) -> UInt64 {
        for root in tracefs {
            if let text = try? String(contentsOfFile: "\(root)/events/\(category)/\(name)/id", encoding: .utf8),
               let id = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return id
            }
        }
        throw .kernelHook(program: "(none)", section: "tracepoint/\(category)/\(name)", errno: ENOENT)
    }

    /// Runs `body` while the event is open on this thread, then closes it.
    public static func whileOpen<R>(category: String, name: String, _ body: () throws(AttachError) -> R) throws(AttachError) -> R {
        var attr = perf_event_attr()
        attr.size = UInt32(MemoryLayout<perf_event_attr>.size)
        attr.type = UInt32(PERF_TYPE_TRACEPOINT.rawValue)
        attr.config = try id(category: category, name: name)
        attr.disabled = 1
        let fd = uprobe_trace_perf_event_open(&attr, 0, -1, -1, UInt(PERF_FLAG_FD_CLOEXEC))
        guard fd >= 0 else { throw AttachError.from(errno: errno, operation: "perf_event_open(tracepoint \(category):\(name), this thread)") }
        defer { close(fd) }
        return try body()
    }
}
