#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tracing

/// Writes each batch as one OTLP/JSON `ExportTraceServiceRequest` per line (JSON lines, as the
/// OpenTelemetry Collector's file exporter does), with hex trace and span ids.
public final class OTLPJSONFileExporter: SpanExporter {
    private struct State {
        var fd: Int32
        var closed = false
    }

    public let path: String
    private let state: Locked<State>

    /// Opens (creating, and unless `append` truncating) `path`; `-` means standard output.
    public init(path: String, append: Bool = false) throws(ExportError) {
        self.path = path
        if path == "-" {
            state = Locked(State(fd: 1))
            return
        }
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else {
            throw .permanent(reason: "cannot open \(path) for OTLP JSON: \(String(cString: strerror(errno))); check the directory exists and is writable")
        }
        state = Locked(State(fd: fd))
    }

    public func export(_ spans: [Span]) async throws {
        guard !spans.isEmpty else { return }
        let line = OTLPJSON.encode(.init(spans: spans)) + "\n"
        let err: Int32 = state.withLock { s in
            if s.closed { return -1 }
            return FileDescriptorWriter.writeAll(fd: s.fd, line)
        }
        if err == 0 { return }
        if err == -1 { throw ExportError.shutDown }
        throw ExportError.permanent(reason: "writing \(path): \(String(cString: strerror(err))); check free space and permissions")
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
