import Tracing

/// Where finished spans go: the console, an OTLP JSON lines file, or an OTLP/HTTP endpoint.
///
/// Implementations are thread-safe. `export` may be slow (network); producers that must not
/// block (the ring-buffer reader) go through ``BatchSpanProcessor`` instead of calling it.
public protocol SpanExporter: Sendable {
    /// Delivers one batch. Throws ``ExportError`` so callers can tell a retryable failure
    /// from a permanent one.
    func export(_ spans: [Span]) async throws
    /// Releases resources (closes files, invalidates sessions). Later exports fail.
    func shutdown() async
}

/// Why an export failed, as far as retrying is concerned.
public enum ExportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Worth trying again: HTTP 429/502/503/504, connection refused, timeout.
    /// `retryAfter` is the server's `Retry-After` in seconds, if it sent one.
    case retryable(reason: String, retryAfter: Double?)
    /// Trying again will not help: other 4xx, a malformed endpoint, a write error.
    case permanent(reason: String)
    /// The receiver took the batch but rejected `rejected` of its spans (OTLP partial
    /// success). Not retried: the specification says resending will not help.
    case partiallyRejected(rejected: Int, message: String)
    /// The exporter was shut down before this batch.
    case shutDown

    public var description: String {
        switch self {
        case .retryable(let reason, let after):
            return "\(reason) (retryable\(after.map { ", retry after \($0) s" } ?? ""))"
        case .permanent(let reason):
            return reason
        case .partiallyRejected(let rejected, let message):
            return "receiver rejected \(rejected) spans" + (message.isEmpty ? "" : ": \(message)")
        case .shutDown:
            return "exporter already shut down"
        }
    }
}
