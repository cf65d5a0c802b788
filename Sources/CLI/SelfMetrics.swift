import Attach
import Foundation
import Families
import OTLP
import Synchronization
import TraceEvents
import Tracing

/// What `--metrics-addr` serves: the tool's own counters in the Prometheus text
/// exposition format 0.0.4, read from where they are kept (ring-buffer readers,
/// the BPF `ut_lost` maps, the span counter, the batch processors) at scrape time.
struct SelfMetrics: Sendable {
    let session: TraceSession
    let sinks: Sinks
    let spans: Counter
    /// Wall-clock seconds since the epoch when the tool started.
    let startTime: Double
    /// On while serving metrics, so the program run time is counted; nil when
    /// the kernel refused (it needs CAP_SYS_ADMIN), and the gauge says so.
    let runStatistics: BPFRunStatistics?
    /// The RED histograms of every span, sampled or not.
    let requests: RequestMetrics

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
        bpfSamples(attached, into: &out)
        requestSamples(into: &out)
        out.family("process_start_time_seconds", "gauge", "Start time of the uprobe-trace process since the Unix epoch, in seconds.",
                   [([:], startTime)])
        return out.text
    }
}

extension SelfMetrics {
    /// Map fill and program run time per family: the in-kernel half of the
    /// tool's cost and its capacity limits. A map shared by every family (its
    /// one kernel id) is listed once, under the first family that holds it.
    func bpfSamples(_ attached: [AttachedProbes], into out: inout PrometheusText) {
        var seen = Set<UInt32>()
        var entries: [([String: String], Double)] = [], capacity: [([String: String], Double)] = []
        var runs: [([String: String], Double)] = [], runTime: [([String: String], Double)] = []
        for probes in attached {
            for map in (try? probes.object.mapUsage()) ?? [] where seen.insert(map.id).inserted {
                entries.append((["family": probes.name, "map": map.name], Double(map.entries)))
                capacity.append((["family": probes.name, "map": map.name], Double(map.maxEntries)))
            }
            for program in (try? probes.object.programs()) ?? [] {
                runs.append((["family": probes.name, "program": program.name], Double(program.runCount)))
                runTime.append((["family": probes.name, "program": program.name], Double(program.runTimeNs) / 1e9))
            }
        }
        out.family("bpf_map_entries", "gauge", "Entries in each BPF hash map now, per probe family.", entries)
        out.family("bpf_map_max_entries", "gauge", "Capacity of each BPF hash map (max_entries).", capacity)
        out.family("bpf_program_runs_total", "counter", "Times each BPF program ran (kernel run statistics, on while metrics are served).", runs)
        out.family("bpf_program_run_time_seconds_total", "counter", "Time spent in each BPF program, in seconds (kernel run statistics).", runTime)
        out.family("bpf_stats_enabled", "gauge", "1 when the kernel counts BPF program run time for the two series above; 0 when it refused (needs CAP_SYS_ADMIN).",
                   [([:], runStatistics == nil ? 0 : 1)])
    }
}

extension SelfMetrics {
    /// The request histograms in Prometheus naming (`http.server.request.duration`
    /// → `http_server_request_duration_seconds`, attribute dots → underscores),
    /// with `service_name` from the traced process's resource. Processes of one
    /// service are summed into one series. Every instrument is announced from the
    /// start, so a dashboard sees 0 requests rather than no data.
    func requestSamples(into out: inout PrometheusText) {
        var merged: [RequestInstrument: [[String: String]: BucketHistogram]] = [:]
        for (key, histogram) in requests.snapshot() {
            var labels = ["service_name": key.resource.attribute("service.name")?.description ?? "unknown"]
            for a in key.attributes { labels[a.key.replacingOccurrences(of: ".", with: "_")] = a.value.description }
            merged[key.instrument, default: [:]][labels, default: BucketHistogram(bounds: key.instrument.bounds)].add(histogram)
        }
        for instrument in RequestInstrument.allCases {
            let name = instrument.rawValue.replacingOccurrences(of: ".", with: "_") + "_seconds"
            let series = (merged[instrument] ?? [:]).sorted { $0.key.sorted(by: <).description < $1.key.sorted(by: <).description }
            out.histogram(name, instrument.description + " (in seconds, from every request, sampled or not)", bounds: instrument.bounds,
                          series.map { ($0.key, $0.value.counts, $0.value.sum) }, prefixed: false)
        }
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
        histogram(name, help, bounds: LatencyHistogram.bounds, series.map { ($0.0, $0.1.counts.map(UInt64.init), $0.1.sum) })
    }

    /// The same from per-bucket counts (one more than `bounds`: +Inf). With no
    /// series, only the HELP and TYPE lines: the metric exists from the start.
    mutating func histogram(_ name: String, _ help: String, bounds: [Double], _ series: [([String: String], [UInt64], Double)],
                            prefixed: Bool = true) {
        header(name, "histogram", help, prefixed: prefixed)
        for (labels, counts, sum) in series {
            var cumulative: UInt64 = 0
            for (i, bound) in bounds.enumerated() {
                cumulative += counts[i]
                sample(name + "_bucket", labels.merging(["le": Self.number(bound)]) { $1 }, Double(cumulative), prefixed: prefixed)
            }
            let total = counts.reduce(0, +)
            sample(name + "_bucket", labels.merging(["le": "+Inf"]) { $1 }, Double(total), prefixed: prefixed)
            sample(name + "_sum", labels, sum, prefixed: prefixed)
            sample(name + "_count", labels, Double(total), prefixed: prefixed)
        }
    }

    private mutating func header(_ name: String, _ type: String, _ help: String, prefixed: Bool = true) {
        let full = (prefixed ? Self.prefix : "") + name
        text += "# HELP \(full) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(full) \(type)\n"
    }

    private mutating func sample(_ name: String, _ labels: [String: String], _ value: Double, prefixed: Bool = true) {
        text += (prefixed ? Self.prefix : "") + name
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
