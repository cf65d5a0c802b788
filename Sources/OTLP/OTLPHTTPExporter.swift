import Dispatch
import Foundation
import Synchronization
import SwiftProtobuf
import Tracing

/// Sends spans as OTLP/HTTP protobuf: `POST <endpoint>` with `Content-Type:
/// application/x-protobuf` and a serialized `ExportTraceServiceRequest` body.
///
/// Uses the small socket client in `HTTPClient` (HTTP/1.1, one connection per batch, TLS
/// through the system's OpenSSL loaded only when an `https://` endpoint is used),
/// not URLSession: FoundationNetworking would load libcurl and ~30 shared libraries into
/// every run of the tool. Failures map to ``ExportError``: 429, 502, 503,
/// 504 and connection-level errors (refused, timed out, reset, DNS) are retryable, with the
/// server's `Retry-After` (seconds or HTTP date) passed along; any other non-2xx is permanent,
/// as the OTLP/HTTP specification prescribes.
public final class OTLPHTTPExporter: SpanExporter, MetricsExporting {
    public let configuration: OTLPHTTPConfiguration
    private let target: HTTPClient.Target?
    private let closed = Mutex(false)

    public init(configuration: OTLPHTTPConfiguration) {
        self.configuration = configuration
        target = HTTPClient.Target(configuration.endpoint.absoluteString)
    }

    public func export(_ spans: [Span]) async throws {
        guard !spans.isEmpty else { return }
        if closed.withLock({ $0 }) { throw ExportError.shutDown }
        let request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(spans: spans)
        let body: Data
        do {
            body = configuration.protocol == .httpJSON ? Data(OTLPJSON.encode(request).utf8) : try request.serializedData()
        } catch {
            throw ExportError.permanent(reason: "encoding OTLP protobuf: \(error)")
        }
        try await post(body)
    }

    /// Sends one metrics request (the configuration's endpoint is a `/v1/metrics` one).
    public func export(metrics request: Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest) async throws(ExportError) {
        if closed.withLock({ $0 }) { throw ExportError.shutDown }
        let body: Data
        do {
            // OTLP/JSON: lowerCamelCase keys, enums as integers (the specification's mapping).
            var options = JSONEncodingOptions()
            options.alwaysPrintEnumsAsInts = true
            body = configuration.protocol == .httpJSON ? Data(try request.jsonString(options: options).utf8) : try request.serializedData()
        } catch {
            throw ExportError.permanent(reason: "encoding OTLP metrics: \(error)")
        }
        try await post(body, partialSuccess: Self.checkMetricsPartialSuccess)
    }

    /// POSTs an already-encoded request body.
    func post(_ body: Data, partialSuccess: (Data, String?) throws(ExportError) -> Void = checkPartialSuccess) async throws(ExportError) {
        let url = configuration.endpoint.absoluteString
        guard let target else { throw .permanent(reason: "POST \(url): only http:// and https:// endpoints are supported") }
        let type = configuration.protocol == .httpJSON ? "application/json" : "application/x-protobuf"
        var headers = [("Content-Type", type), ("User-Agent", "uprobe-trace/\(InstrumentationScope.version)")]
        var bytes = [UInt8](body)
        if configuration.gzip {
            guard let compressed = Gzip.compress(bytes) else { throw .permanent(reason: "POST \(url): gzip failed") }
            bytes = compressed
            headers.append(("Content-Encoding", "gzip"))
        }
        headers += configuration.headers
        let response = try await send(target, headers: headers, body: bytes)
        let status = response.status
        if (200..<300).contains(status) {
            try partialSuccess(Data(response.body), response.headers["content-type"])
            return
        }
        let detail = String(decoding: response.body.prefix(200), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let reason = "POST \(url): HTTP \(status)" + (detail.isEmpty ? "" : " \(detail)")
        switch status {
        case 429, 502, 503, 504:
            let retryAfter = response.headers["retry-after"].flatMap(Self.parseRetryAfter)
            throw .retryable(reason: reason, retryAfter: retryAfter)
        case 404:
            throw .permanent(reason: reason + "; check the endpoint path (OTLP/HTTP receivers take traces at /v1/traces, metrics at /v1/metrics)")
        case 401, 403:
            throw .permanent(reason: reason + "; check OTEL_EXPORTER_OTLP_HEADERS carries the credentials")
        default:
            throw .permanent(reason: reason)
        }
    }

    /// Runs the blocking exchange on a Dispatch thread (never on the cooperative
    /// pool), cancellable from the awaiting task.
    private func send(_ target: HTTPClient.Target, headers: [(String, String)], body: [UInt8]) async throws(ExportError) -> HTTPClient.Response {
        let url = configuration.endpoint.absoluteString
        let timeout = configuration.timeout
        let tls = configuration.tls
        let cancelled = Mutex(false)
        let result: Result<HTTPClient.Response, ExportError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    do throws(HTTPClient.Failure) {
                        let r = try HTTPClient.post(target, headers: headers, body: body, timeout: timeout, tls: tls,
                                                    isCancelled: { cancelled.withLock { $0 } })
                        continuation.resume(returning: .success(r))
                    } catch {
                        continuation.resume(returning: .failure(Self.classify(error, target: url)))
                    }
                }
            }
        } onCancel: {
            cancelled.withLock { $0 = true }
        }
        return try result.get()
    }

    static func classify(_ error: HTTPClient.Failure, target: String) -> ExportError {
        switch error {
        case .connection(let why):
            return .retryable(reason: "POST \(target): \(why)", retryAfter: nil)
        case .timedOut:
            return .retryable(reason: "POST \(target): timed out", retryAfter: nil)
        case .cancelled:
            return .permanent(reason: "POST \(target): cancelled")
        case .protocolError(let why):
            return .permanent(reason: "POST \(target): \(why)")
        case .tls(let why):
            return .permanent(reason: "POST \(target): \(why)")
        }
    }

    /// A 2xx may still carry `partial_success` with rejected spans; surface them so they are
    /// counted. An undecodable body is not an error: the request itself succeeded.
    static func checkPartialSuccess(_ body: Data, _ contentType: String?) throws(ExportError) {
        guard !body.isEmpty, contentType?.lowercased().hasPrefix("application/x-protobuf") ?? true,
              let response = try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse(serializedBytes: body),
              response.hasPartialSuccess, response.partialSuccess.rejectedSpans > 0 else { return }
        throw .partiallyRejected(rejected: Int(clamping: response.partialSuccess.rejectedSpans),
                                 message: response.partialSuccess.errorMessage)
    }

    /// The same for metrics: rejected data points are counted as rejected items.
    static func checkMetricsPartialSuccess(_ body: Data, _ contentType: String?) throws(ExportError) {
        guard !body.isEmpty, contentType?.lowercased().hasPrefix("application/x-protobuf") ?? true,
              let response = try? Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse(serializedBytes: body),
              response.hasPartialSuccess, response.partialSuccess.rejectedDataPoints > 0 else { return }
        throw .partiallyRejected(rejected: Int(clamping: response.partialSuccess.rejectedDataPoints),
                                 message: response.partialSuccess.errorMessage)
    }

    /// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
    static func parseRetryAfter(_ value: String) -> Double? {
        let v = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(v), seconds >= 0 { return seconds }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = f.date(from: v) else { return nil }
        return max(0, date.timeIntervalSinceNow)
    }

    public func shutdown() async {
        let first = closed.withLock { c -> Bool in
            defer { c = true }
            return !c
        }
        _ = first
    }
}
