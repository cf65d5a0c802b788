import Synchronization

/// The request-duration histograms of the OpenTelemetry semantic conventions
/// (rate, errors and duration — RED — per service, method and status), taken
/// from every finished span before sampling, so counts stay exact whatever
/// `--sample-ratio` keeps.
public enum RequestInstrument: String, Sendable, CaseIterable, Comparable {
    case httpServer = "http.server.request.duration"
    case httpClient = "http.client.request.duration"
    case dbClient = "db.client.operation.duration"
    case rpcServer = "rpc.server.call.duration"
    case rpcClient = "rpc.client.call.duration"

    /// The conventions' explicit bucket boundaries, in seconds.
    public var bounds: [Double] {
        switch self {
        case .dbClient: return [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]
        default: return [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
        }
    }

    public var description: String {
        switch self {
        case .httpServer: return "Duration of HTTP server requests."
        case .httpClient: return "Duration of HTTP client requests."
        case .dbClient: return "Duration of database client operations."
        case .rpcServer: return "Duration of RPCs served, from the request's start to its status."
        case .rpcClient: return "Duration of RPCs made, from the call to its status."
        }
    }

    /// The span attributes that become metric attributes. Paths, queries and
    /// statement texts never do (unbounded); `http.route` only where the
    /// server reported one.
    var keys: [String] {
        switch self {
        case .httpServer:
            return ["http.request.method", "http.response.status_code", "http.route", "network.protocol.version", "url.scheme", "error.type"]
        case .httpClient:
            return ["http.request.method", "http.response.status_code", "server.address", "server.port", "network.protocol.version", "error.type"]
        case .dbClient:
            return ["db.system.name", "db.operation.name", "db.namespace", "db.response.status_code", "server.address", "server.port", "error.type"]
        case .rpcServer, .rpcClient:
            return ["rpc.system", "rpc.service", "rpc.method", "rpc.grpc.status_code", "error.type"]
        }
    }

    /// Which histogram a span feeds, if any (a `tcp connect` span feeds none).
    public static func of(_ span: Span) -> RequestInstrument? {
        let has = { (key: String) in span.attribute(key) != nil }
        switch span.kind {
        case .server:
            if has("rpc.system") { return .rpcServer }
            if has("http.request.method") { return .httpServer }
        case .client:
            if has("rpc.system") { return .rpcClient }
            if has("http.request.method") { return .httpClient }
            if has("db.system.name") || has("db.system") { return .dbClient }
        default: break
        }
        return nil
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// Observations in explicit buckets: `counts[i]` holds values in
/// (`bounds[i-1]`, `bounds[i]`], the last entry those above every bound.
public struct BucketHistogram: Sendable, Equatable {
    public let bounds: [Double]
    public private(set) var counts: [UInt64]
    public private(set) var sum: Double = 0
    public private(set) var min: Double = .infinity
    public private(set) var max: Double = -.infinity
    public var count: UInt64 { counts.reduce(0, +) }

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = [UInt64](repeating: 0, count: bounds.count + 1)
    }

    public mutating func observe(_ value: Double) {
        counts[bounds.firstIndex { value <= $0 } ?? bounds.count] += 1
        sum += value
        min = Swift.min(min, value)
        max = Swift.max(max, value)
    }

    /// Adds another histogram with the same bounds (two processes of one service).
    public mutating func add(_ other: BucketHistogram) {
        precondition(other.bounds == bounds, "histograms with different bounds")
        for i in counts.indices { counts[i] += other.counts[i] }
        sum += other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }
}

/// One time series: an instrument, the resource (service) it describes and
/// its attribute values.
public struct RequestSeriesKey: Sendable, Hashable {
    public let instrument: RequestInstrument
    public let resource: Resource
    /// Sorted by key.
    public let attributes: [Attribute]
}

/// Cumulative RED histograms since the tool started, per series. Bounded:
/// after `maxSeries` series, further attribute sets of an instrument are
/// counted in one overflow series (`otel.metric.overflow`=true), as the
/// OpenTelemetry SDKs do, so nothing observed is lost.
public final class RequestMetrics: Sendable {
    public static let overflowAttribute = Attribute("otel.metric.overflow", .bool(true))
    public let maxSeries: Int
    /// Nanoseconds since the Unix epoch when counting began (OTLP's start time).
    public let startTimeUnixNano: UInt64
    private let series = Mutex<[RequestSeriesKey: BucketHistogram]>([:])

    public init(startTimeUnixNano: UInt64, maxSeries: Int = 2000) {
        self.startTimeUnixNano = startTimeUnixNano
        self.maxSeries = maxSeries
    }

    /// Counts a finished span (sampled or not) in its histogram, if it has one.
    public func record(_ span: Span) {
        guard let instrument = RequestInstrument.of(span) else { return }
        var attributes: [Attribute] = []
        for key in instrument.keys.sorted() {
            if let value = span.attribute(key) { attributes.append(Attribute(key, value)) }
        }
        let seconds = Double(span.durationNanos) / 1e9
        var key = RequestSeriesKey(instrument: instrument, resource: span.resource, attributes: attributes)
        series.withLock { all in
            if all[key] == nil && all.count >= maxSeries {
                key = RequestSeriesKey(instrument: instrument, resource: span.resource, attributes: [Self.overflowAttribute])
            }
            all[key, default: BucketHistogram(bounds: instrument.bounds)].observe(seconds)
        }
    }

    private static func text(_ key: RequestSeriesKey) -> String {
        (key.resource.attributes + key.attributes).map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// Every series now, in a stable order (instrument, then attributes).
    public func snapshot() -> [(key: RequestSeriesKey, histogram: BucketHistogram)] {
        series.withLock { $0.map { (key: $0.key, histogram: $0.value) } }.sorted { a, b in
            if a.key.instrument != b.key.instrument { return a.key.instrument < b.key.instrument }
            return Self.text(a.key) < Self.text(b.key)
        }
    }
}
