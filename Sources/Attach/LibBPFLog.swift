import CLibBPF
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where libbpf's own messages go (`libbpf_set_print`).
///
/// By default nothing reaches stderr: warnings are kept (the last few) so a
/// failed load can show them in `AttachError.load`. With
/// `UPROBE_TRACE_DEBUG=1` in the environment every line, debug level
/// included (verifier logs), is written to stderr (libbpf starts each line with `libbpf: `).
///
/// The callback takes a `va_list`, which Swift imports as `CVaListPointer`,
/// so it is formatted with `vsnprintf` here without a C shim.
public enum LibBPFLog {
    /// True when UPROBE_TRACE_DEBUG=1.
    public static let debug: Bool = getenv("UPROBE_TRACE_DEBUG").map { String(cString: $0) == "1" } ?? false

    private static let recentLines = Mutex<[String]>([])
    private static let installed = Mutex<Bool>(false)

    /// Routes libbpf's output here; idempotent. Called by `BPFObject.init`.
    public static func install() {
        installed.withLock { done in
            guard !done else { return }
            done = true
            _ = libbpf_set_print(printCallback)
        }
    }

    /// The last warnings libbpf printed (at most 64 lines), oldest first.
    public static var recent: [String] { recentLines.withLock { $0 } }

    /// Forgets the kept warnings (before an operation whose log matters).
    static func clear() { recentLines.withLock { $0.removeAll() } }

    fileprivate static func record(level: libbpf_print_level, line: String) {
        if debug {
            let text = line + (line.hasSuffix("\n") ? "" : "\n")
            text.utf8CString.withUnsafeBufferPointer { buf in
                _ = write(2, buf.baseAddress, buf.count - 1)
            }
        }
        guard level == LIBBPF_WARN else { return }
        recentLines.withLock { lines in
            lines.append(line.hasSuffix("\n") ? String(line.dropLast()) : line)
            if lines.count > 64 { lines.removeFirst(lines.count - 64) }
        }
    }
}

private let printCallback: libbpf_print_fn_t = { level, format, args in
    guard let format, let args else { return 0 }
    // Verifier logs arrive at LIBBPF_DEBUG only: skip formatting them unless asked.
    if level == LIBBPF_DEBUG && !LibBPFLog.debug { return 0 }
    var buffer = [CChar](repeating: 0, count: 8192)
    let n = buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, format, args) }
    guard n >= 0 else { return 0 }
    let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    LibBPFLog.record(level: level, line: String(decoding: text, as: UTF8.self))
    return n
}
