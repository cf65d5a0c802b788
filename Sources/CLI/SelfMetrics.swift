import Foundation
import Families
import OTLP
import Synchronization
import TraceEvents

/// What `--metrics-addr` serves: the tool's own counters in the Prometheus text
/// exposition format 0.0.4, read from where they are kept (ring-buffer readers,
/// the BPF `ut_lost` maps, the span counter, the batch processors) at scrape time.
struct SelfMetrics: Sendable {
    let session: TraceSession
    let sinks: Sinks
    let spans: Counter
    /// Wall-clock seconds since the epoch when the tool started.
    let startTime: Double

    func render() -> String {
        var out = PrometheusText()
        let attached = session.attached
        let lost = session.lostByFamily()
        let names = lost.map(\.family)
        out.family("events_received_total", "counter", "Records read from the kernel ring buffer, per probe family.",
                   names.map { (["family": $0], Double(session.received[$0])) })
        out.family("events_lost_total", "counter", "Records the BPF programs could not put into the full ring buffer, per probe family.",
                   lost.map { (["family": $0.family], Double($0.lost)) })
        out.family("probes_attached", "gauge", "Uprobes attached, per probe family.",
                   names.map { n in (["family": n], Double(attached.filter { $0.name == n }.reduce(0) { $0 + $1.probeCount })) })
        out.family("spans_produced_total", "counter", "Spans made from events (before export).", [([:], Double(spans.value))])

        let exporters = sinks.processors.map { ($0.kind, $0.processor.counters) }
        out.family("spans_exported_total", "counter", "Spans the exporter accepted.",
                   exporters.map { (["exporter": $0.0], Double($0.1.exported)) })
        out.family("spans_dropped_total", "counter", "Spans that will never be exported: the queue was full, or export failed for good.",
                   exporters.flatMap { [(["exporter": $0.0, "reason": "queue_full"], Double($0.1.droppedQueueFull)),
                                        (["exporter": $0.0, "reason": "export_failed"], Double($0.1.droppedExportFailed))] })
        out.family("export_retries_total", "counter", "Export attempts repeated after a retryable failure.",
                   exporters.map { (["exporter": $0.0], Double($0.1.retries)) })
        out.family("export_queue_depth", "gauge", "Spans waiting to be exported, including the batch being sent.",
                   exporters.map { (["exporter": $0.0], Double($0.1.queueDepth)) })
        out.histogram("export_duration_seconds", "Time from a batch's first export attempt to its outcome, retries included.",
                      exporters.map { (["exporter": $0.0], $0.1.exportSeconds) })
        SystemMetrics(attached: attached).render(into: &out)
        out.family("process_start_time_seconds", "gauge", "Start time of the uprobe-trace process since the Unix epoch, in seconds.",
                   [([:], startTime)])
        return out.text
    }
}

/// Records read from the shared ring buffer, per probe family (the high byte of the record's kind).
final class FamilyCounts: Sendable {
    private let counts = Mutex([UInt64](repeating: 0, count: Int(UT_FAMILY_COUNT.rawValue)))

    /// Counts one ring-buffer record.
    func count(record: [UInt8]) {
        guard record.count >= 4 else { return }
        let family = Int(ut_event_family(record.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        counts.withLock { if family < $0.count { $0[family] += 1 } }
    }

    subscript(name: String) -> UInt64 {
        guard let family = ProbeFamilies.all.first(where: { $0.name == name }) else { return 0 }
        return counts.withLock { $0[Int(family.id.rawValue)] }
    }
}

/// The Prometheus text exposition format, version 0.0.4: a HELP and a TYPE line
/// per metric family, then `name{label="value",...} value` samples.
struct PrometheusText {
    static let prefix = "uprobe_trace_"
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String, _ samples: [([String: String], Double)]) {
        guard !samples.isEmpty else { return }
        header(name, type, help)
        for (labels, value) in samples { sample(name, labels, value) }
    }

    /// Cumulative `_bucket{le=...}` samples, then `_sum` and `_count`, per label set.
    mutating func histogram(_ name: String, _ help: String, _ series: [([String: String], LatencyHistogram)]) {
        guard !series.isEmpty else { return }
        header(name, "histogram", help)
        for (labels, h) in series {
            var cumulative = 0
            for (i, bound) in LatencyHistogram.bounds.enumerated() {
                cumulative += h.counts[i]
                sample(name + "_bucket", labels.merging(["le": Self.number(bound)]) { $1 }, Double(cumulative))
            }
            sample(name + "_bucket", labels.merging(["le": "+Inf"]) { $1 }, Double(h.count))
            sample(name + "_sum", labels, h.sum)
            sample(name + "_count", labels, Double(h.count))
        }
    }

    /// A histogram whose buckets the caller counted: `counts[i]` observations
    /// at most `upperBounds[i]` and above the previous bound (made cumulative here).
    mutating func histogram(_ name: String, _ help: String, buckets series: [([String: String], upperBounds: [Double], counts: [UInt64], sum: Double)]) {
        guard !series.isEmpty else { return }
        header(name, "histogram", help)
        for (labels, bounds, counts, sum) in series {
            var cumulative: UInt64 = 0
            for (bound, n) in zip(bounds, counts) {
                cumulative += n
                sample(name + "_bucket", labels.merging(["le": Self.number(bound)]) { $1 }, Double(cumulative))
            }
            let total = counts.reduce(0, +)
            sample(name + "_bucket", labels.merging(["le": "+Inf"]) { $1 }, Double(total))
            sample(name + "_sum", labels, sum)
            sample(name + "_count", labels, Double(total))
        }
    }

    private mutating func header(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(Self.prefix)\(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(Self.prefix)\(name) \(type)\n"
    }

    private mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
        text += Self.prefix + name
        if !labels.isEmpty {
            // `le` last, as Prometheus itself writes it; the rest sorted so output is stable.
            let keys = labels.keys.filter { $0 != "le" }.sorted() + (labels["le"] == nil ? [] : ["le"])
            text += "{" + keys.map { "\($0)=\"\(Self.escape(labels[$0]!))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.number(value) + "\n"
    }

    private static func escape(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Integers without a fraction; others as Swift prints them (Go's ParseFloat reads both).
    private static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
