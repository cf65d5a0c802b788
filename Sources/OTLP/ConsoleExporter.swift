import Synchronization
import SystemSupport
import Tracing

/// The default exporter: one ``ConsoleLine`` per span on standard output.
///
/// Each batch is written with one `write(2)` per line, under a lock, so lines from concurrent
/// callers never interleave.
public final class ConsoleExporter: SpanExporter {
    private let utcOffset: Int?
    private let output: @Sendable (String) -> Void
    private let lock = Mutex(())

    /// `output` receives each line without its newline; the default writes to stdout.
    /// `utcOffset` fixes the time zone (seconds east of UTC); nil means the local zone.
    public init(utcOffset: Int? = nil, output: (@Sendable (String) -> Void)? = nil) {
        self.utcOffset = utcOffset
        self.output = output ?? { line in FileDescriptorIO.writeAll(1, line + "\n") }
    }

    /// Writes the spans now; cheap enough to call from the producer thread.
    public func write(_ spans: [Span]) {
        lock.withLock { _ in
            for span in spans { output(ConsoleLine.format(span, utcOffset: utcOffset)) }
        }
    }

    public func export(_ spans: [Span]) async throws { write(spans) }

    public func shutdown() async {}
}
