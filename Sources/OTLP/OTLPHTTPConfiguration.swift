import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What an OTLP request carries: the path it is POSTed to and the name in the
/// signal-specific environment variables (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`).
public enum OTLPSignal: String, Sendable {
    case traces, metrics

    public var path: String { "/v1/" + rawValue }
    var variable: String { rawValue.uppercased() }
}

/// How OTLP travels (the OTel spec's `OTEL_EXPORTER_OTLP_PROTOCOL` values).
public enum OTLPProtocol: String, Sendable, CaseIterable {
    case grpc
    case httpProtobuf = "http/protobuf"
    case httpJSON = "http/json"

    /// `flag` (from `--otlp-protocol`), else `OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`,
    /// else `OTEL_EXPORTER_OTLP_PROTOCOL`, else http/protobuf.
    public static func resolve(flag: String?, environment: [String: String], signal: OTLPSignal) throws(OTLPConfigurationError) -> OTLPProtocol {
        let specific = "OTEL_EXPORTER_OTLP_\(signal.variable)_PROTOCOL"
        let candidates: [(String, String?)] = [("--otlp-protocol", flag), (specific, environment[specific]), ("OTEL_EXPORTER_OTLP_PROTOCOL", environment["OTEL_EXPORTER_OTLP_PROTOCOL"])]
        for (source, value) in candidates {
            guard let v = value?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { continue }
            guard let p = OTLPProtocol(rawValue: v) else { throw .invalidProtocol(value: v, source: source) }
            return p
        }
        return .httpProtobuf
    }
}

/// Where and how the OTLP/HTTP exporter sends, resolved from the command line and the
/// standard `OTEL_EXPORTER_OTLP_*` environment variables.
public struct OTLPHTTPConfiguration: Sendable, Equatable {
    /// The full URL requests are POSTed to (`…/v1/traces`, `…/v1/metrics`).
    public var endpoint: URL
    /// Extra request headers (for example an API key), applied in order.
    public var headers: [(String, String)]
    /// Per-request timeout in seconds.
    public var timeout: Double
    /// Certificates for an `https://` endpoint.
    public var tls: TLSSettings
    /// grpc, http/protobuf or http/json.
    public var `protocol`: OTLPProtocol
    /// Request bodies gzip-compressed (`OTEL_EXPORTER_OTLP_COMPRESSION=gzip`).
    public var gzip: Bool

    public init(endpoint: URL, headers: [(String, String)] = [], timeout: Double = 10, tls: TLSSettings = TLSSettings(),
                protocol: OTLPProtocol = .httpProtobuf, gzip: Bool = false) {
        self.endpoint = endpoint
        self.headers = headers
        self.timeout = timeout
        self.tls = tls
        self.protocol = `protocol`
        self.gzip = gzip
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.endpoint == b.endpoint && a.timeout == b.timeout && a.tls == b.tls && a.protocol == b.protocol && a.gzip == b.gzip
            && a.headers.map { [$0.0, $0.1] } == b.headers.map { [$0.0, $0.1] }
    }

    /// The configuration, or nil when neither `explicitEndpoint` nor the environment names one.
    ///
    /// Endpoint (for traces; metrics alike with `METRICS` and `/v1/metrics`):
    /// `explicitEndpoint` (with `/v1/traces` appended unless it already ends so; a
    /// traces URL given for metrics ends in `/v1/metrics` instead), else
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as-is, else `OTEL_EXPORTER_OTLP_ENDPOINT` +
    /// `/v1/traces`. Headers: `OTEL_EXPORTER_OTLP_HEADERS` then
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` (which wins for a repeated key). Timeout:
    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds.
    /// With gRPC the endpoint is taken as it is (no path; port 4317 when it names
    /// none), and an `http://` one means plaintext, `https://` TLS.
    public static func resolve(explicitEndpoint: String? = nil,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               signal: OTLPSignal = .traces, protocol otlpProtocol: OTLPProtocol = .httpProtobuf)
        throws(OTLPConfigurationError) -> OTLPHTTPConfiguration? {
        func env(_ k: String) -> String? {
            guard let v = environment[k]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        var endpoint: URL
        let specific = "OTEL_EXPORTER_OTLP_\(signal.variable)_"
        if otlpProtocol == .grpc {
            guard let (raw, source) = explicitEndpoint.map({ ($0, "--otlp-endpoint") })
                    ?? env(specific + "ENDPOINT").map({ ($0, specific + "ENDPOINT") })
                    ?? env("OTEL_EXPORTER_OTLP_ENDPOINT").map({ ($0, "OTEL_EXPORTER_OTLP_ENDPOINT") }) else { return nil }
            guard var c = URLComponents(string: raw), let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https",
                  c.host?.isEmpty == false else { throw .invalidEndpoint(value: raw, source: source) }
            if c.port == nil { c.port = 4317 }
            c.path = ""
            guard let url = c.url else { throw .invalidEndpoint(value: raw, source: source) }
            endpoint = url
        } else if let explicit = explicitEndpoint {
            endpoint = try signalURL(base: explicit, source: "--otlp-endpoint", signal: signal, appendPathUnlessPresent: true)
        } else if let url = env(specific + "ENDPOINT") {
            endpoint = try signalURL(base: url, source: specific + "ENDPOINT", signal: signal, appendPathUnlessPresent: false)
        } else if let base = env("OTEL_EXPORTER_OTLP_ENDPOINT") {
            endpoint = try signalURL(base: base, source: "OTEL_EXPORTER_OTLP_ENDPOINT", signal: signal, appendPathUnlessPresent: false, alwaysAppend: true)
        } else {
            return nil
        }
        var headers: [(String, String)] = []
        for name in ["OTEL_EXPORTER_OTLP_HEADERS", specific + "HEADERS"] {
            guard let raw = env(name) else { continue }
            for (k, v) in try parseHeaders(raw, source: name) {
                headers.removeAll { $0.0.lowercased() == k.lowercased() }
                headers.append((k, v))
            }
        }
        var timeout = 10.0
        if let ms = env(specific + "TIMEOUT") ?? env("OTEL_EXPORTER_OTLP_TIMEOUT") {
            guard let v = Double(ms), v > 0 else {
                throw .invalidTimeout(value: ms)
            }
            timeout = v / 1000
        }
        // TLS files: the signal's variable, else the general one. Checked now, so a
        // typo is one error line at start rather than every export failing.
        var files: [String?] = []
        for name in ["CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"] {
            let variable = env(specific + name) != nil ? specific + name : "OTEL_EXPORTER_OTLP_" + name
            let path = env(variable)
            if let path, access(path, R_OK) != 0 { throw .unreadableFile(path: path, source: variable) }
            files.append(path)
        }
        let tls = TLSSettings(caFile: files[0], clientCertificate: files[1], clientKey: files[2])
        var gzip = false
        let compressionVariable = env(specific + "COMPRESSION") != nil ? specific + "COMPRESSION" : "OTEL_EXPORTER_OTLP_COMPRESSION"
        if let c = env(compressionVariable) {
            switch c.lowercased() {
            case "gzip": gzip = true
            case "none": gzip = false
            default: throw .invalidCompression(value: c, source: compressionVariable)
            }
        }
        return OTLPHTTPConfiguration(endpoint: endpoint, headers: headers, timeout: timeout, tls: tls, protocol: otlpProtocol, gzip: gzip)
    }

    static func signalURL(base: String, source: String, signal: OTLPSignal, appendPathUnlessPresent: Bool,
                          alwaysAppend: Bool = false) throws(OTLPConfigurationError) -> URL {
        guard var components = URLComponents(string: base),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              components.host?.isEmpty == false else {
            throw .invalidEndpoint(value: base, source: source)
        }
        var path = components.path
        if appendPathUnlessPresent && signal != .traces && path.hasSuffix(OTLPSignal.traces.path) {
            path.removeLast(OTLPSignal.traces.path.count)
        }
        if alwaysAppend || (appendPathUnlessPresent && !path.hasSuffix(signal.path)) {
            components.path = (path.hasSuffix("/") ? String(path.dropLast()) : path) + signal.path
        }
        guard let url = components.url else { throw .invalidEndpoint(value: base, source: source) }
        return url
    }

    /// `k=v,k2=v2` with percent-encoded values (W3C Baggage style, as the OTel spec says).
    static func parseHeaders(_ raw: String, source: String) throws(OTLPConfigurationError) -> [(String, String)] {
        var out: [(String, String)] = []
        for item in raw.split(separator: ",") {
            let pair = item.trimmingCharacters(in: .whitespaces)
            if pair.isEmpty { continue }
            guard let eq = pair.firstIndex(of: "=") else { throw .invalidHeaders(value: raw, source: source) }
            let key = pair[..<eq].trimmingCharacters(in: .whitespaces)
            let rawValue = pair[pair.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, let value = rawValue.removingPercentEncoding else {
                throw .invalidHeaders(value: raw, source: source)
            }
            out.append((key, value))
        }
        return out
    }
}

/// A bad `--otlp-endpoint` or `OTEL_EXPORTER_OTLP_*` setting.
public enum OTLPConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidEndpoint(value: String, source: String)
    case invalidHeaders(value: String, source: String)
    case invalidTimeout(value: String)
    /// A certificate or key file that cannot be read.
    case unreadableFile(path: String, source: String)
    case invalidProtocol(value: String, source: String)
    case invalidCompression(value: String, source: String)

    public var description: String {
        switch self {
        case .invalidEndpoint(let v, let source):
            return "\(source): '\(v)' is not an http(s) URL; give one like http://localhost:4318"
        case .invalidHeaders(_, let source):
            return "\(source): expected key=value pairs separated by commas, values percent-encoded (api-key=abc%20def,tenant=t1)"
        case .invalidProtocol(let v, let source):
            return "\(source): '\(v)' is not an OTLP protocol; hint: grpc, http/protobuf or http/json"
        case .invalidCompression(let v, let source):
            return "\(source): '\(v)' is not a compression; hint: gzip or none"
        case .unreadableFile(let path, let source):
            return "\(source): cannot read \(path); hint: give a readable PEM file (the collector's CA for _CERTIFICATE, yours for _CLIENT_CERTIFICATE/_CLIENT_KEY)"
        case .invalidTimeout(let v):
            return "OTEL_EXPORTER_OTLP_TIMEOUT: '\(v)' is not a positive number of milliseconds"
        }
    }
}
