import Testing

/// Span durations against a program's own measurement of the same work,
/// checked in a way that holds on a loaded 2-core machine: there a few
/// requests are preempted between a probe and the program's clock read, so
/// single samples and tail percentiles are printed, not asserted. Asserted
/// are the median and the bulk, which a real error (spans some milliseconds
/// off, start and end swapped) still moves. Absolute tail targets live in
/// Benchmarks/accuracy.sh.
struct TimingAccuracy {
    /// Largest median of |span - own| accepted, in µs (unloaded: ~20 µs).
    static let medianLimit = 200.0
    /// At least this fraction of requests must be within `bulkLimit`.
    static let bulkFraction = 0.9
    static let bulkLimit = 1000.0

    /// |span - own| in µs, sorted.
    let diffs: [Double]

    /// `pairs`: span duration and the program's own measurement, in ns.
    init(_ pairs: [(span: Int64, own: Int64)]) {
        diffs = pairs.map { Double(abs($0.span - $0.own)) / 1000 }.sorted()
    }

    func percentile(_ p: Double) -> Double {
        diffs.isEmpty ? .nan : diffs[min(diffs.count - 1, Int(Double(diffs.count) * p))]
    }

    var summary: String {
        "|span duration - own measurement| over \(diffs.count) requests: p50 \(percentile(0.5)) us, "
            + "p90 \(percentile(0.9)) us, p99 \(percentile(0.99)) us, max \(diffs.last ?? .nan) us"
    }

    func expectAccurate(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!diffs.isEmpty, "no request was measured", sourceLocation: sourceLocation)
        #expect(percentile(0.5) < Self.medianLimit, "median: \(summary)", sourceLocation: sourceLocation)
        let within = diffs.filter { $0 < Self.bulkLimit }.count
        #expect(Double(within) >= Self.bulkFraction * Double(diffs.count),
                "\(within) of \(diffs.count) within \(Self.bulkLimit) us: \(summary)", sourceLocation: sourceLocation)
    }
}

/// A span's start and end as the OTLP JSON file has them (decimal strings of ns).
func spanTimes(_ span: [String: Any]) -> (start: Int64, end: Int64)? {
    guard let start = Int64(span["startTimeUnixNano"] as? String ?? ""),
          let end = Int64(span["endTimeUnixNano"] as? String ?? "") else { return nil }
    return (start, end)
}
