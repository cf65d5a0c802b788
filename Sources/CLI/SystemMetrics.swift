import Attach
import Families
import Foundation
import SystemSupport
import Tracing
import OTLP

/// The system family's statistics (`--syscalls`, `--tcp`) as Prometheus
/// metrics and as the table printed at exit; both read the kernel maps then.
struct SystemMetrics {
    let attached: [AttachedProbes]

    var active: Bool { attached.contains { $0.name == SystemFamily.name } }

    /// The kernel's syscall names, read once; a failure is said once and numbers are used.
    static func names() -> SyscallNames {
        SyscallNames.shared { Log.note("syscall names unavailable, numbers shown instead: \($0)") }
    }

    func stats() -> SystemStats? {
        guard active else { return nil }
        do { return try SystemStats.read(attached) } catch {
            Log.note("reading the system statistics failed: \(error)")
            return nil
        }
    }

    func render(into out: inout PrometheusText) {
        guard let stats = stats() else { return }
        let names = Self.names()
        let calls = stats.syscalls.map { s in (["pid": String(s.pid), "syscall": names.name(s.nr)], s) }
        out.family("syscalls_total", "counter", "Syscalls a traced process made (completed ones), per process and syscall (--syscalls).",
                   calls.map { ($0.0, Double($0.1.count)) })
        // The last kernel bucket holds everything from its lower bound on: it is the +Inf bucket.
        let bounds = (0..<(SystemStats.bucketCount - 1)).map(SystemStats.bucketUpperSeconds)
        out.histogram("syscall_duration_seconds", "Time from syscall entry to exit, per process and syscall (--syscalls); power-of-two buckets.",
                      bounds: bounds, calls.map { ($0.0, $0.1.buckets, Double($0.1.totalNanos) / 1e9) })
        let tcp = stats.tcp.sorted { $0.key < $1.key }
        out.family("tcp_connections_total", "counter", "TCP connections of a traced process that were established: outbound (connect) and inbound (accept) (--tcp).",
                   tcp.flatMap { pid, t in [(["pid": String(pid), "direction": "outbound"], Double(t.outbound)),
                                            (["pid": String(pid), "direction": "inbound"], Double(t.inbound))] })
        out.family("tcp_bytes_total", "counter", "TCP payload bytes a traced process sent and received (--tcp).",
                   tcp.flatMap { pid, t in [(["pid": String(pid), "direction": "sent"], Double(t.bytesSent)),
                                            (["pid": String(pid), "direction": "received"], Double(t.bytesReceived))] })
        out.family("tcp_connect_errors_total", "counter", "Outbound TCP connects of a traced process that failed, by errno name (--tcp).",
                   stats.connectErrors.sorted { $0.key < $1.key }.flatMap { pid, errors in
                       errors.sorted { $0.key < $1.key }.map { (["pid": String(pid), "error": TCPConnectSpans.errorName($0.key)], Double($0.value)) }
                   })
    }

    /// The same statistics as OTLP metrics, one `ResourceMetrics` per traced
    /// process (its resource): `uprobe_trace.syscall.duration` (a histogram per
    /// syscall, the kernel's power-of-two buckets), and the cumulative sums
    /// `uprobe_trace.tcp.connections`, `uprobe_trace.tcp.bytes` (by `direction`)
    /// and `uprobe_trace.tcp.connect_errors` (by `error.type`).
    func otlp(resource: (UInt32) -> Resource, startTimeUnixNano: UInt64, timeUnixNano: UInt64) -> [Opentelemetry_Proto_Metrics_V1_ResourceMetrics] {
        guard let stats = stats() else { return [] }
        let names = Self.names()
        let bounds = (0..<(SystemStats.bucketCount - 1)).map(SystemStats.bucketUpperSeconds)
        func attributes(_ pairs: [(String, String)]) -> [Opentelemetry_Proto_Common_V1_KeyValue] {
            pairs.map { Opentelemetry_Proto_Common_V1_KeyValue(.string($0.0, $0.1)) }
        }
        func sum(_ name: String, _ unit: String, _ description: String, _ points: [([(String, String)], UInt64)]) -> Opentelemetry_Proto_Metrics_V1_Metric {
            var metric = Opentelemetry_Proto_Metrics_V1_Metric()
            metric.name = name
            metric.unit = unit
            metric.description_p = description
            var sum = Opentelemetry_Proto_Metrics_V1_Sum()
            sum.isMonotonic = true
            sum.aggregationTemporality = .cumulative
            sum.dataPoints = points.map { attrs, value in
                var p = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
                p.attributes = attributes(attrs)
                p.startTimeUnixNano = startTimeUnixNano
                p.timeUnixNano = timeUnixNano
                p.asInt = Int64(clamping: value)
                return p
            }
            metric.sum = sum
            return metric
        }
        var scope = Opentelemetry_Proto_Common_V1_InstrumentationScope()
        scope.name = InstrumentationScope.name
        scope.version = InstrumentationScope.version
        let pids = Set(stats.syscalls.map(\.pid)).union(stats.tcp.keys).union(stats.connectErrors.keys).sorted()
        return pids.map { pid in
            var metrics: [Opentelemetry_Proto_Metrics_V1_Metric] = []
            let calls = stats.syscalls.filter { $0.pid == pid }
            if !calls.isEmpty {
                var h = Opentelemetry_Proto_Metrics_V1_Histogram()
                h.aggregationTemporality = .cumulative
                h.dataPoints = calls.map { c in
                    var p = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
                    p.attributes = attributes([("syscall", names.name(c.nr))])
                    p.startTimeUnixNano = startTimeUnixNano
                    p.timeUnixNano = timeUnixNano
                    p.count = c.count
                    p.sum = Double(c.totalNanos) / 1e9
                    p.bucketCounts = c.buckets
                    p.explicitBounds = bounds
                    return p
                }
                var metric = Opentelemetry_Proto_Metrics_V1_Metric()
                metric.name = "uprobe_trace.syscall.duration"
                metric.unit = "s"
                metric.description_p = "Time from syscall entry to exit, per syscall (--syscalls)."
                metric.histogram = h
                metrics.append(metric)
            }
            if let t = stats.tcp[pid] {
                metrics.append(sum("uprobe_trace.tcp.connections", "{connection}", "TCP connections established (--tcp).",
                                   [([("direction", "outbound")], t.outbound), ([("direction", "inbound")], t.inbound)]))
                metrics.append(sum("uprobe_trace.tcp.bytes", "By", "TCP payload bytes (--tcp).",
                                   [([("direction", "sent")], t.bytesSent), ([("direction", "received")], t.bytesReceived)]))
            }
            if let errors = stats.connectErrors[pid], !errors.isEmpty {
                metrics.append(sum("uprobe_trace.tcp.connect_errors", "{connect}", "Outbound TCP connects that failed (--tcp).",
                                   errors.sorted { $0.key < $1.key }.map { ([("error.type", TCPConnectSpans.errorName($0.key))], $0.value) }))
            }
            var scopeMetrics = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
            scopeMetrics.scope = scope
            scopeMetrics.metrics = metrics
            var rm = Opentelemetry_Proto_Metrics_V1_ResourceMetrics()
            rm.resource = Opentelemetry_Proto_Resource_V1_Resource(resource(pid))
            rm.scopeMetrics = [scopeMetrics]
            return rm
        }
    }

    /// Per traced process, the syscalls by total time, like `strace -c`:
    /// % time, seconds, usecs/call, calls, syscall. nil when nothing was counted.
    func summary(top: Int = 15) -> String? {
        guard let stats = stats(), !stats.syscalls.isEmpty else { return nil }
        let names = Self.names()
        var text = ""
        for pid in Set(stats.syscalls.map(\.pid)).sorted() {
            let rows = stats.syscalls.filter { $0.pid == pid }.sorted { $0.totalNanos > $1.totalNanos }
            let total = rows.reduce(UInt64(0)) { $0 + $1.totalNanos }
            let calls = rows.reduce(UInt64(0)) { $0 + $1.count }
            text += "uprobe-trace: syscalls of pid \(pid) (top \(min(top, rows.count)) of \(rows.count) by time)\n"
            text += "% time     seconds  usecs/call     calls syscall\n"
            text += "------ ----------- ----------- --------- ----------------\n"
            for r in rows.prefix(top) {
                let share = total > 0 ? 100 * Double(r.totalNanos) / Double(total) : 0
                let perCall = r.count > 0 ? Double(r.totalNanos) / Double(r.count) / 1000 : 0
                text += String(format: "%6.2f %11.6f %11.0f %9llu ", share, Double(r.totalNanos) / 1e9, perCall, r.count) + names.name(r.nr) + "\n"
            }
            text += "------ ----------- ----------- --------- ----------------\n"
            text += String(format: "100.00 %11.6f %11.0f %9llu total\n", Double(total) / 1e9, calls > 0 ? Double(total) / Double(calls) / 1000 : 0, calls)
        }
        return text
    }
}
