import Dispatch
import OTLP
import Synchronization
import Tracing

/// The exporters chosen on the command line, each behind a batching processor
/// so the ring-buffer reader never blocks on I/O.
final class Sinks: Sendable {
    /// `name` for the summary (with the endpoint), `kind` for metric labels: console, otlp-json, otlp-http.
    let processors: [(name: String, kind: String, processor: BatchSpanProcessor)]

    init(console: Bool, jsonPath: String?, endpoint: String?, environment: [String: String]) throws {
        var list: [(String, String, BatchSpanProcessor)] = []
        if console {
            var config = BatchSpanProcessor.Configuration()
            config.scheduleDelay = 0.1
            list.append(("console", "console", BatchSpanProcessor(exporter: ConsoleExporter(), configuration: config)))
        }
        if let jsonPath {
            do {
                list.append(("otlp-json", "otlp-json", BatchSpanProcessor(exporter: try OTLPJSONFileExporter(path: jsonPath))))
            } catch {
                throw CLIError(description: "--otlp-json \(jsonPath): \(error); hint: check that the directory exists and is writable")
            }
        }
        do {
            if let config = try OTLPHTTPConfiguration.resolve(explicitEndpoint: endpoint, environment: environment) {
                list.append(("otlp-http \(config.endpoint.absoluteString)", "otlp-http", BatchSpanProcessor(exporter: OTLPHTTPExporter(configuration: config))))
            }
        } catch {
            throw CLIError(description: "\(error)", exitCode: 2)
        }
        processors = list
    }

    func enqueue(_ span: Span) {
        for p in processors { p.processor.enqueue(span) }
    }

    /// Flushes and stops every processor, waiting at most `timeout` seconds each.
    func shutdown(timeout: Double) -> [(name: String, counters: ExportCounters)] {
        let box = Mutex<[(name: String, counters: ExportCounters)]>([])
        let done = DispatchSemaphore(value: 0)
        let processors = self.processors
        Task {
            for p in processors {
                let counters = await p.processor.shutdown(timeout: timeout)
                box.withLock { $0.append((p.name, counters)) }
            }
            done.signal()
        }
        done.wait()
        return box.withLock { $0 }
    }
}

/// A counter the reader thread increments and the main thread reads.
final class Counter: Sendable {
    private let n = Mutex(0)
    func add(_ k: Int) { n.withLock { $0 += k } }
    var value: Int { n.withLock { $0 } }
}
