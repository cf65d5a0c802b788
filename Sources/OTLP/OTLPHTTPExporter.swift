import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwiftProtobuf
import Tracing

/// Sends spans as OTLP/HTTP protobuf: `POST <endpoint>` with `Content-Type:
/// application/x-protobuf` and a serialized `ExportTraceServiceRequest` body.
///
/// Uses Foundation's `URLSession` (FoundationNetworking, libcurl underneath on Linux) so the
/// package needs no HTTP client dependency. Failures map to ``ExportError``: 429, 502, 503,
/// 504 and connection-level errors (refused, timed out, reset, DNS) are retryable, with the
/// server's `Retry-After` (seconds or HTTP date) passed along; any other non-2xx is permanent,
/// as the OTLP/HTTP specification prescribes.
public final class OTLPHTTPExporter: SpanExporter {
    public let configuration: OTLPHTTPConfiguration
    private let session: URLSession
    private let closed = Locked(false)

    public init(configuration: OTLPHTTPConfiguration) {
        self.configuration = configuration
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = configuration.timeout
        config.timeoutIntervalForResource = configuration.timeout
        config.httpShouldSetCookies = false
        config.urlCache = nil
        session = URLSession(configuration: config)
    }

    public func export(_ spans: [Span]) async throws {
        guard !spans.isEmpty else { return }
        if closed.withLock({ $0 }) { throw ExportError.shutDown }
        let body: Data
        do {
            body = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(spans: spans).serializedData()
        } catch {
            throw ExportError.permanent(reason: "encoding OTLP protobuf: \(error)")
        }
        try await post(body)
    }

    /// POSTs an already-encoded request body.
    func post(_ body: Data) async throws(ExportError) {
        var request = URLRequest(url: configuration.endpoint, timeoutInterval: configuration.timeout)
        request.httpMethod = "POST"
        request.setValue("application/x-protobuf", forHTTPHeaderField: "Content-Type")
        request.setValue("uprobe-trace/\(InstrumentationScope.version)", forHTTPHeaderField: "User-Agent")
        for (k, v) in configuration.headers { request.setValue(v, forHTTPHeaderField: k) }
        request.httpBody = body

        let (data, response) = try await send(request)
        let status = response.statusCode
        if (200..<300).contains(status) {
            try Self.checkPartialSuccess(data, contentType: response.value(forHTTPHeaderField: "Content-Type"))
            return
        }
        let target = configuration.endpoint.absoluteString
        let detail = String(decoding: data.prefix(200), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let reason = "POST \(target): HTTP \(status)" + (detail.isEmpty ? "" : " \(detail)")
        switch status {
        case 429, 502, 503, 504:
            let retryAfter = response.value(forHTTPHeaderField: "Retry-After").flatMap(Self.parseRetryAfter)
            throw .retryable(reason: reason, retryAfter: retryAfter)
        case 404:
            throw .permanent(reason: reason + "; check the endpoint path (OTLP/HTTP traces live at /v1/traces)")
        case 401, 403:
            throw .permanent(reason: reason + "; check OTEL_EXPORTER_OTLP_HEADERS carries the credentials")
        default:
            throw .permanent(reason: reason)
        }
    }

    private func send(_ request: URLRequest) async throws(ExportError) -> (Data, HTTPURLResponse) {
        let target = configuration.endpoint.absoluteString
        let taskBox = Locked<URLSessionDataTask?>(nil)
        let result: Result<(Data, HTTPURLResponse), ExportError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let task = session.dataTask(with: request) { data, response, error in
                    if let error {
                        continuation.resume(returning: .failure(Self.classify(error, target: target)))
                    } else if let http = response as? HTTPURLResponse {
                        continuation.resume(returning: .success((data ?? Data(), http)))
                    } else {
                        continuation.resume(returning: .failure(.permanent(reason: "POST \(target): not an HTTP response")))
                    }
                }
                taskBox.withLock { $0 = task }
                task.resume()
            }
        } onCancel: {
            taskBox.withLock { $0 }?.cancel()
        }
        return try result.get()
    }

    static func classify(_ error: any Error, target: String) -> ExportError {
        let reason = "POST \(target): \(error.localizedDescription)"
        guard let urlError = error as? URLError else { return .permanent(reason: reason) }
        switch urlError.code {
        case .cannotConnectToHost, .timedOut, .networkConnectionLost, .cannotFindHost,
             .dnsLookupFailed, .notConnectedToInternet, .resourceUnavailable:
            return .retryable(reason: reason, retryAfter: nil)
        case .cancelled:
            return .permanent(reason: "POST \(target): cancelled")
        default:
            return .permanent(reason: reason)
        }
    }

    /// A 2xx may still carry `partial_success` with rejected spans; surface them so they are
    /// counted. An undecodable body is not an error: the request itself succeeded.
    static func checkPartialSuccess(_ body: Data, contentType: String?) throws(ExportError) {
        guard !body.isEmpty, contentType?.lowercased().hasPrefix("application/x-protobuf") ?? true,
              let response = try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse(serializedBytes: body),
              response.hasPartialSuccess, response.partialSuccess.rejectedSpans > 0 else { return }
        throw .partiallyRejected(rejected: Int(clamping: response.partialSuccess.rejectedSpans),
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
        if first { session.finishTasksAndInvalidate() }
    }
}
