import Foundation
import Attach
import OTLP

/// What `--metrics-addr` serves: the tool's own counters in the Prometheus text
/// exposition format 0.0.4, read from where they are kept (ring-buffer readers,
/// the BPF `ut_lost` maps, the span counter, the batch processors) at scrape time.
struct SelfMetrics: Sendable {
    /// One attached probe family and the reader of its ring buffer.
    struct Attached: Sendable {
        let probes: any AttachedFamily
        let reader: RingBufferReader
    }

    let attached: [Attached]
    let sinks: Sinks
    let spans: Counter
    /// Wall-clock seconds since the epoch when the tool started.
    let startTime: Double

    func render() -> String {
        var out = PrometheusText()
        let families = attached.map(\.probes)
        out.family("events_received_total", "counter", "Events read from the kernel ring buffers, per probe family.",
                   perFamily(families) { f in attached.filter { $0.probes.familyName == f }.reduce(0) { $0 + $1.reader.received } })
        out.family("events_lost_total", "counter", "Events the BPF programs could not put into the full ring buffer, per probe family.",
                   lostByFamily(families).map { (["family": $0.family], Double($0.lost)) })
        out.family("probes_attached", "gauge", "Uprobes attached, per probe family.",
                   perFamily(families) { f in UInt64(families.filter { $0.familyName == f }.reduce(0) { $0 + $1.probeCount }) })
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
        out.family("process_start_time_seconds", "gauge", "Start time of the uprobe-trace process since the Unix epoch, in seconds.",
                   [([:], startTime)])
        return out.text
    }

    /// One sample per distinct family, in attach order.
    private func perFamily(_ families: [any AttachedFamily], _ value: (String) -> UInt64) -> [([String: String], Double)] {
        var seen: [String] = []
        for f in families where !seen.contains(f.familyName) { seen.append(f.familyName) }
        return seen.map { (["family": $0], Double(value($0))) }
    }
}

/// Events lost in the kernel per probe family, in attach order, summed over
/// objects of the same family (several Go executables each have their own).
/// A family whose counters cannot be read (already detached) counts 0.
func lostByFamily(_ families: [any AttachedFamily]) -> [(family: String, lost: UInt64)] {
    var out: [(family: String, lost: UInt64)] = []
    for f in families {
        let n = (try? f.lostEvents()) ?? 0
        if let i = out.firstIndex(where: { $0.family == f.familyName }) { out[i].lost += n } else { out.append((f.familyName, n)) }
    }
    return out
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
