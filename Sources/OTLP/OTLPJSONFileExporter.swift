#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SystemSupport
import Tracing

/// Writes each batch as one OTLP/JSON `ExportTraceServiceRequest` per line (JSON lines, as the
/// OpenTelemetry Collector's file exporter does), with hex trace and span ids.
public final class OTLPJSONFileExporter: SpanExporter {
    private struct State {
        var fd: Int32
        var closed = false
    }

    public let path: String
    private let state: Mutex<State>

    /// Opens (creating, and unless `append` truncating) `path`; `-` means standard output.
    public init(path: String, append: Bool = false) throws(ExportError) {
        self.path = path
        if path == "-" {
            state = Mutex(State(fd: 1))
            return
        }
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else {
            throw .permanent(reason: "cannot open \(path) for OTLP JSON: \(Errno.current.text); check the directory exists and is writable")
        }
        state = Mutex(State(fd: fd))
    }

    public func export(_ spans: [Span]) async throws {
        guard !spans.isEmpty else { return }
        let line = OTLPJSON.encode(.init(spans: spans)) + "\n"
        let outcome: Result<Void, ExportError> = state.withLock { s in
            if s.closed { return .failure(.shutDown) }
            guard let e = FileDescriptorIO.writeAll(s.fd, line) else { return .success(()) }
            return .failure(.permanent(reason: "writing \(path): \(e.text); check free space and permissions"))
        }
        try outcome.get()
    }

    /// Flushes to disk and closes the file.
    public func shutdown() async {
        state.withLock { s in
            guard !s.closed else { return }
            s.closed = true
            if s.fd > 2 {
                fsync(s.fd)
                close(s.fd)
            }
        }
    }
}
