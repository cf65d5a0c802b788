import ArgumentParser
import Attach
import Families
import SystemSupport
import Tracing

#if canImport(Glibc)
import Glibc
#endif

/// `uprobe-trace [trace]`: attach the chosen probe families, turn events into
/// spans, export them until interrupted, the traced process exits, or
/// --duration passes.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Trace running programs and print or export OpenTelemetry spans (the default command).",
        discussion: """
        Examples:
          uprobe-trace --pid 1234                           # every probe family that applies to pid 1234
          uprobe-trace --pid 1234 --go-http                 # spans of a running Go server, one line each
          uprobe-trace --ssl                                # HTTP over the host's libssl.so.3, every process
          uprobe-trace --ssl --pid 4321                     # only the libssl that pid 4321 maps
          uprobe-trace --mysql --pid 4321 --sql-literals    # mysql_real_query statements, literals kept
          uprobe-trace --postgres --pid 4321                # libpq statements (sync and async)
          uprobe-trace --exe ./server --go-http             # every process running ./server, later ones too
          uprobe-trace --pid 1234 --syscalls --tcp --metrics-addr 127.0.0.1:9464   # syscalls, TCP connects and bytes
          uprobe-trace --pid 1234 --go-http --otlp-endpoint http://collector:4318
          uprobe-trace --pid 1234 --go-http --otlp-json spans.jsonl --quiet --duration 60
          uprobe-trace --pid 1234 --go-http --metrics-addr 127.0.0.1:9464 --ring-buffer-size 16777216

        With --pid and no family flag, each family is tried on the process
        (go-http: a Go program with net/http; ssl: it maps libssl; mysql: it
        maps libmariadb/libmysqlclient; postgres: it maps libpq); stderr says which applied and why the
        others were skipped. Naming families narrows the choice; --syscalls
        and --tcp (kernel tracepoints: every syscall or TCP event of the
        process) are opt-in and add to what is detected.

        Go functions are probed at their entry and at every RET instruction
        (never with a uretprobe, which crashes Go programs); a server request
        costs 2 uprobe hits, a client request 3, and in programs that make
        client calls each new goroutine 1 (to find a client call's parent). --ssl costs 2 hits per SSL_read/SSL_write call
        (several per request; HTTP/1.x and HTTP/2) and 1 per connection (SSL_free); --mysql 2 per query; --postgres 7 per PQexec. TLS bodies are never
        exported, nor Authorization/Cookie header values. Needs root (or CAP_BPF, CAP_PERFMON and
        CAP_SYS_PTRACE). OTEL_EXPORTER_OTLP_ENDPOINT, ..._TRACES_ENDPOINT,
        ..._HEADERS and OTEL_SERVICE_NAME are honoured.

        Traces: a server span continues an incoming W3C traceparent (its
        sampled flag is honoured); Go client calls are children of the server
        request their goroutine (or its creator) serves, and of a traced Go
        client in another process when one sent the request; MySQL queries and
        TLS client calls are children of the TLS server span on their thread.

        Stops on Ctrl-C/SIGTERM, when every traced pid has exited, or after
        --duration; then flushes the exporters and prints a summary line
        (spans, drops, events lost in the kernel per probe family: if any were
        lost, raise --ring-buffer-size).
        """
    )

    @Option(name: .long, help: ArgumentHelp("Process to trace (repeat or comma-separate for several).", valueName: "pid"))
    var pid: [String] = []

    @Option(name: .long, help: ArgumentHelp("Executable to trace in every process that runs it, including later ones.", valueName: "path"))
    var exe: [String] = []

    @OptionGroup(title: "Probe families (none: detected per --pid)") var families: FamilyFlags
    @OptionGroup(title: "Export") var export: ExportFlags

    @Option(name: .customLong("sample-ratio"), help: ArgumentHelp("Record this fraction of new traces (0 to 1), decided by trace id; a request that arrives with a traceparent follows its sampled flag instead.", valueName: "ratio"))
    var sampleRatio: Double = 1

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(name: .customLong("metrics-addr"), help: ArgumentHelp("Serve the tool's own metrics (Prometheus text) on GET /metrics at this address, e.g. 127.0.0.1:9464 (port 0: any free port).", valueName: "host:port"))
    var metricsAddr: String?

    @Option(name: .customLong("ring-buffer-size"), help: ArgumentHelp("Bytes of the kernel ring buffer all probe families share: a power of two, at least the page size (default 4194304). Raise it when events are lost in the kernel.", valueName: "bytes"))
    var ringBufferSize: UInt32?

    var pids: [Int32] { pid.flatMap { $0.split(separator: ",") }.compactMap { parseProcessID(String($0).trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        for p in pid.flatMap({ $0.split(separator: ",") }) {
            _ = try parsePID(String(p).trimmingCharacters(in: .whitespaces))
        }
        if families.choices.isEmpty && pid.isEmpty && exe.isEmpty {
            throw ValidationError("nothing to trace: give --pid PID (its probe families are detected), --exe PATH, or a family: --go-http, --go-grpc, --ssl [LIB], --mysql [LIB], --postgres [LIB]")
        }
        if (families.syscalls || families.tcp) && pid.isEmpty {
            throw ValidationError("--syscalls and --tcp need --pid PID (they trace processes)")
        }
        if families.goHTTP && pid.isEmpty && exe.isEmpty {
            throw ValidationError("--go-http needs --pid PID or --exe PATH")
        }
        if families.goGRPC && pid.isEmpty && exe.isEmpty {
            throw ValidationError("--go-grpc needs --pid PID or --exe PATH")
        }
        if !exe.isEmpty && !families.choices.isEmpty && !families.goHTTP && !families.goGRPC {
            throw ValidationError("--exe applies to --go-http and --go-grpc; --ssl and --mysql take the library itself (every process using it is traced)")
        }
        if families.captureBytes > 8192 { throw ValidationError("--capture-bytes is at most 8192") }
        if !(0...1).contains(sampleRatio) { throw ValidationError("--sample-ratio must be between 0 and 1 (0.1 records one new trace in ten)") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
        if let metricsAddr, MetricsServer.parse(metricsAddr) == nil {
            throw ValidationError("--metrics-addr \(metricsAddr) is not HOST:PORT; hint: e.g. --metrics-addr 127.0.0.1:9464")
        }
        if let size = ringBufferSize {
            let page = UInt32(sysconf(Int32(_SC_PAGESIZE)))
            if size < page || size & (size - 1) != 0 {
                throw ValidationError("--ring-buffer-size \(size) must be a power of two of at least \(page) (the page size); hint: e.g. 4194304 (4 MiB) or 16777216")
            }
        }
    }

    func run() throws {
        Signals.block()
        let started = BootClock.bootNanos()
        let environment = Environment.variables
        let pids = self.pids
        let planner = FamilyPlanner(choices: families.choices, options: families.options)
        let perProgram = planner.autoDetect || families.goHTTP
        // Before planning: a file replaced or a pid exec'ing from here on is seen by the main loop.
        var watch = ExecutableWatch(paths: perProgram ? exe : [], pids: perProgram ? pids : [])
        // Plans first: every target is checked before anything is attached.
        let plans = try planner.plans(pids: pids, executables: exe) { decisions in
            guard let pid = decisions.first?.pid else { return }
            Log.write("uprobe-trace: pid \(pid): \(decisions.map(\.description).joined(separator: "; "))\n")
        }
        let requests = RequestMetrics(startTimeUnixNano: BootClock().unixNanos(fromBoot: started))
        let sinks = try Sinks(console: !export.quiet, jsonPath: export.otlpJSON, endpoint: export.otlpEndpoint, protocol: export.otlpProtocol,
                              environment: environment,
                              requests: requests)
        // Listening before anything is attached: a taken port fails first.
        let metrics = try metricsAddr.map { try MetricsServer(listen: $0) }
        let resources = ResourceCache(plans: plans, environment: environment)
        let spanCount = Counter(), unsampled = Counter()
        let session = try TraceSession(
            ringBufferBytes: ringBufferSize ?? SharedMaps.defaultRingBufferBytes,
            assembler: SpanAssembler(clock: BootClock(), sampler: Sampler(ratio: sampleRatio), options: families.options,
                                     resource: { resources.resource(for: $0) })) { spans in
            for span in spans {
                sinks.record(span)   // every request counts in the metrics, sampled or not
                guard span.sampled else { unsampled.add(1); continue }
                spanCount.add(1)
                sinks.enqueue(span)
            }
        }
        defer { session.detachAll() }
        for plan in plans { try session.attach(plan) }
        session.startReading()
        defer { session.stopReading() }
        sinks.moreMetrics.add { start, now in
            SystemMetrics(attached: session.attached).otlp(resource: { resources.resource(for: $0) }, startTimeUnixNano: start, timeUnixNano: now)
        }
        sinks.start()
        // Runs before the detach above: a scrape reads the BPF maps.
        defer { metrics?.stop() }
        if let metrics {
            metrics.start(render: SelfMetrics(session: session, sinks: sinks, spans: spanCount,
                                              startTime: Double(BootClock().unixNanos(fromBoot: started)) / 1e9,
                                              runStatistics: try? BPFRunStatistics(), requests: sinks.requests).render)
            Log.write("uprobe-trace: metrics on http://\(metrics.address)/metrics\n")
        }

        let reason = Signals.wait(until: duration.map { BootClock.bootNanos() + UInt64($0 * 1e9) }, pids: pids) {
            // Uprobes belong to inodes: a new file at an --exe path, or a new program in a --pid, gets its own probes.
            for change in watch.changes() { session.reattach(after: change, planner: planner, resources: resources) }
        }
        if case .processesExited(let gone) = reason {
            Log.write("uprobe-trace: traced process\(gone.count > 1 ? "es" : "") \(gone.map(String.init).joined(separator: ", ")) exited\n")
        }
        // Drain what the kernel already produced, then detach before flushing.
        session.stopReading()
        let lost = session.lostByFamily().map { "\($0.family) \($0.lost)" }.joined(separator: ", ")
        let (results, metricExports) = sinks.shutdown(timeout: 5)
        let exported = results.map { "\($0.counters.exported) to \($0.name)" }.joined(separator: ", ")
        let dropped = results.reduce(0) { $0 + $1.counters.dropped }
        let notSampled = unsampled.value > 0 ? ", \(unsampled.value) not sampled" : ""
        Log.write("uprobe-trace: \(spanCount.value) spans (\(exported.isEmpty ? "none exported" : "exported " + exported))\(notSampled), \(dropped) spans dropped, events lost in the kernel: \(lost)\n")
        if dropped > 0, let e = results.compactMap({ $0.counters.lastError }).first {
            Log.note("last export error: \(e)")
        }
        if let m = metricExports, let endpoint = sinks.metrics?.endpoint {
            Log.write("uprobe-trace: metrics: \(m.exports) exports to \(endpoint), \(m.failures) failed\(m.lastError.map { " (last: \($0))" } ?? "")\n")
        }
        metrics?.stop()
        if let table = SystemMetrics(attached: session.attached).summary() { Log.write(table) }
        // Last, because it can be slow: perf uprobes wait for an RCU grace period each.
        let probes = session.probeCount
        if probes > 8 { Log.write("uprobe-trace: detaching \(probes) probes\n") }
        session.detachAll()
    }
}
