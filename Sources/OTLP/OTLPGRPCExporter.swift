import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Synchronization
import SwiftProtobuf
import Tracing

/// Sends spans and metrics over OTLP/gRPC (`TraceService/Export`,
/// `MetricsService/Export`) with grpc-swift 2 on its SwiftNIO HTTP/2 transport:
/// one long-lived connection (plaintext for `http://` endpoints, TLS with the
/// configured CA and client certificate for `https://`), the configured headers
/// as metadata, the timeout as the call deadline, gzip when asked.
///
/// Failures map to ``ExportError`` as the OTLP specification lists them:
/// CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and
/// DATA_LOSS are retryable; RESOURCE_EXHAUSTED only when the server sent a
/// `RetryInfo` (whose delay is passed on); every other code is permanent.
public final class OTLPGRPCExporter: SpanExporter, MetricsExporting {
    public let configuration: OTLPHTTPConfiguration
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let connections: Task<Void, Never>
    private let closed = Mutex(false)

    static let traceExport = MethodDescriptor(fullyQualifiedService: "opentelemetry.proto.collector.trace.v1.TraceService", method: "Export")
    static let metricsExport = MethodDescriptor(fullyQualifiedService: "opentelemetry.proto.collector.metrics.v1.MetricsService", method: "Export")

    public init(configuration: OTLPHTTPConfiguration) throws(ExportError) {
        self.configuration = configuration
        let url = configuration.endpoint
        guard let host = url.host, let port = url.port else { throw .permanent(reason: "gRPC endpoint \(url.absoluteString) has no host and port") }
        let secure = url.scheme?.lowercased() == "https"
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        if secure {
            let tls = configuration.tls
            security = .tls { config in
                if let ca = tls.caFile { config.trustRoots = .certificates([.file(path: ca, format: .pem)]) }
                if let cert = tls.clientCertificate {
                    config.certificateChain = [.file(path: cert, format: .pem)]
                    config.privateKey = .file(path: tls.clientKey ?? cert, format: .pem)
                }
            }
        } else {
            security = .plaintext
        }
        let target: any ResolvableTarget = host.split(separator: ".").count == 4 && host.allSatisfy({ $0.isNumber || $0 == "." })
            ? .ipv4(address: host, port: port) : .dns(host: host, port: port)
        let transport: HTTP2ClientTransport.Posix
        do {
            transport = try HTTP2ClientTransport.Posix(target: target, transportSecurity: security, config: .defaults { config in
                if configuration.gzip { config.compression.enabledAlgorithms = [.gzip] }
                // Connect quickly, and keep retrying a collector that is away (the calls fail meanwhile).
                config.backoff.initial = .milliseconds(100)
                config.backoff.max = .seconds(5)
            })
        } catch {
            throw .permanent(reason: "gRPC \(url.absoluteString): \(error)")
        }
        let client = GRPCClient(transport: transport)
        self.client = client
        // Runs until shutdown; a failed connection attempt fails the calls (UNAVAILABLE), which say why.
        connections = Task.detached { try? await client.runConnections() }
    }

    public func export(_ spans: [Span]) async throws {
        guard !spans.isEmpty else { return }
        let response: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse =
            try await call(Self.traceExport, Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(spans: spans))
        if response.hasPartialSuccess, response.partialSuccess.rejectedSpans > 0 {
            throw ExportError.partiallyRejected(rejected: Int(clamping: response.partialSuccess.rejectedSpans), message: response.partialSuccess.errorMessage)
        }
    }

    /// Sends one metrics request.
    public func export(metrics request: Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest) async throws(ExportError) {
        let response: Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse
        do {
            response = try await call(Self.metricsExport, request)
        } catch let e as ExportError {
            throw e
        } catch {
            throw .permanent(reason: "\(error)")
        }
        if response.hasPartialSuccess, response.partialSuccess.rejectedDataPoints > 0 {
            throw .partiallyRejected(rejected: Int(clamping: response.partialSuccess.rejectedDataPoints), message: response.partialSuccess.errorMessage)
        }
    }

    private func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(_ method: MethodDescriptor, _ message: Request) async throws -> Response {
        if closed.withLock({ $0 }) { throw ExportError.shutDown }
        var metadata: Metadata = ["user-agent": "uprobe-trace/\(InstrumentationScope.version)"]
        for (k, v) in configuration.headers { metadata.addString(v, forKey: k.lowercased()) }
        var options = CallOptions.defaults
        options.timeout = .milliseconds(Int64(configuration.timeout * 1000))
        if configuration.gzip { options.compression = .gzip }
        let where_ = "gRPC \(configuration.endpoint.absoluteString) \(method.fullyQualifiedMethod)"
        do {
            return try await client.unary(request: ClientRequest(message: message, metadata: metadata), descriptor: method,
                                          serializer: ProtobufSerializer<Request>(), deserializer: ProtobufDeserializer<Response>(),
                                          options: options) { try $0.message }
        } catch let error as RPCError {
            throw Self.classify(error, where: where_)
        } catch {
            throw ExportError.permanent(reason: "\(where_): \(error)")
        }
    }

    static func classify(_ error: RPCError, where place: String) -> ExportError {
        var reason = "\(place): \(error.code)" + (error.message.isEmpty ? "" : " \(error.message)")
        // The transport's own words for a failed TLS handshake hide the reason; its cause has it.
        var cause = error.cause
        while let c = cause {
            let text = "\(c)"
            if text.uppercased().contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
                return .permanent(reason: "\(place): TLS certificate verify failed; hint: set OTEL_EXPORTER_OTLP_CERTIFICATE to the CA file that signed the collector's certificate")
            }
            if let next = (c as? RPCError)?.cause { cause = next } else {
                reason += " (\(text.replacingOccurrences(of: "\n", with: " ").prefix(300)))"
                break
            }
        }
        switch error.code {
        case .cancelled, .deadlineExceeded, .aborted, .outOfRange, .unavailable, .dataLoss:
            return .retryable(reason: reason, retryAfter: retryDelay(error))
        case .resourceExhausted:
            if let delay = retryDelay(error) { return .retryable(reason: reason, retryAfter: delay) }
            return .permanent(reason: reason + " (no RetryInfo: not retried)")
        case .unauthenticated, .permissionDenied:
            return .permanent(reason: reason + "; hint: check OTEL_EXPORTER_OTLP_HEADERS carries the credentials")
        case .unimplemented:
            return .permanent(reason: reason + "; hint: is this an OTLP/gRPC receiver (port 4317)? For OTLP/HTTP use --otlp-protocol http/protobuf")
        default:
            return .permanent(reason: reason)
        }
    }

    /// The server's `google.rpc.RetryInfo` delay, in seconds, from `grpc-status-details-bin`.
    static func retryDelay(_ error: RPCError) -> Double? {
        guard let status = try? error.unpackGoogleRPCStatus() else { return nil }
        for detail in status.details {
            if let info = detail.retryInfo {
                let c = info.delay.components
                return Double(c.seconds) + Double(c.attoseconds) / 1e18
            }
        }
        return nil
    }

    public func shutdown() async {
        let first = closed.withLock { c -> Bool in defer { c = true }; return !c }
        guard first else { return }
        client.beginGracefulShutdown()
        // In-flight calls finish first; a collector that never answers is cut at the call deadline.
        await connections.value
    }
}
