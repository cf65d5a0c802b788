import ArgumentParser
import Attach
import Dispatch
import OTLP
import ProbePlan
import Symbols
import Synchronization
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
          uprobe-trace --pid 1234 --go-http                 # spans of a running Go server, one line each
          uprobe-trace --ssl                                # HTTP over the host's libssl.so.3, every process
          uprobe-trace --ssl --pid 4321                     # only the libssl that pid 4321 maps
          uprobe-trace --mysql --pid 4321 --sql-literals    # mysql_real_query statements, literals kept
          uprobe-trace --exe ./server --go-http             # every process running ./server, later ones too
          uprobe-trace --pid 1234 --go-http --otlp-endpoint http://collector:4318
          uprobe-trace --pid 1234 --go-http --otlp-json spans.jsonl --quiet --duration 60
          uprobe-trace --pid 1234 --go-http --metrics-addr 127.0.0.1:9464 --ring-buffer-size 16777216

        Go functions are probed at their entry and at every RET instruction
        (never with a uretprobe, which crashes Go programs); a server request
        costs 2 uprobe hits, a client request 3, and in programs that make
        client calls each new goroutine 1 (to find a client call's parent). --ssl costs 2 hits per SSL_read/SSL_write call
        (several per request); --mysql 2 per query. TLS bodies are never
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

    @Flag(name: .customLong("go-http"), help: "Trace Go net/http servers (ServeHTTP) and clients (Transport.roundTrip).")
    var goHTTP = false

    @Option(name: .customLong("ssl"), help: ArgumentHelp("Trace HTTP/1.x over OpenSSL (SSL_read/SSL_write). The value is optional: a libssl path or name; omitted: the libssl the --pid maps, else the host's libssl.so.3.", valueName: "libssl"))
    var ssl: String?

    @Option(name: .customLong("mysql"), help: ArgumentHelp("Trace mysql_real_query. The value is optional: a libmariadb/libmysqlclient path or name; omitted: the one the --pid maps, else the host's.", valueName: "library"))
    var mysql: String?

    @Option(name: .customLong("capture-bytes"), help: ArgumentHelp("Bytes of TLS plaintext / SQL text copied per call (max 8192). Longer statements are marked truncated.", valueName: "n"))
    var captureBytes: UInt32 = 1024

    @Flag(name: .customLong("sql-literals"), help: "Export SQL statements as written; by default literals are replaced with ?.")
    var sqlLiterals = false

    @Option(name: .customLong("otlp-endpoint"), help: ArgumentHelp("Send spans as OTLP/HTTP protobuf to this collector (…/v1/traces is added).", valueName: "url"))
    var otlpEndpoint: String?

    @Option(name: .customLong("otlp-json"), help: ArgumentHelp("Write spans as OTLP JSON lines to this file ('-' for stdout).", valueName: "file"))
    var otlpJSON: String?

    @Option(name: .customLong("sample-ratio"), help: ArgumentHelp("Record this fraction of new traces (0 to 1), decided by trace id; a request that arrives with a traceparent follows its sampled flag instead.", valueName: "ratio"))
    var sampleRatio: Double = 1

    @Flag(help: "Do not print spans on stdout (export only).")
    var quiet = false

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(name: .customLong("metrics-addr"), help: ArgumentHelp("Serve the tool's own metrics (Prometheus text) on GET /metrics at this address, e.g. 127.0.0.1:9464 (port 0: any free port).", valueName: "host:port"))
    var metricsAddr: String?

    @Option(name: .customLong("ring-buffer-size"), help: ArgumentHelp("Bytes of the kernel ring buffer all probe families share: a power of two, at least the page size (default 4194304). Raise it when events are lost in the kernel.", valueName: "bytes"))
    var ringBufferSize: UInt32?

    var pids: [Int32] { pid.flatMap { $0.split(separator: ",") }.compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        for p in pid.flatMap({ $0.split(separator: ",") }) {
            _ = try parsePID(String(p).trimmingCharacters(in: .whitespaces))
        }
        if !goHTTP && ssl == nil && mysql == nil {
            throw ValidationError("no probe family chosen: add --go-http, --ssl or --mysql")
        }
        if goHTTP && pid.isEmpty && exe.isEmpty {
            throw ValidationError("--go-http needs --pid PID or --exe PATH")
        }
        if !exe.isEmpty && !goHTTP {
            throw ValidationError("--exe applies to --go-http; --ssl and --mysql take the library itself (every process using it is traced)")
        }
        if captureBytes > 8192 { throw ValidationError("--capture-bytes is at most 8192") }
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
        // Before planning: a file replaced or a pid exec'ing from here on is seen by the main loop.
        var watch = ExecutableWatch(paths: goHTTP ? exe : [], pids: goHTTP ? pids : [])
        // Plans first: every target is checked before anything is attached.
        let goPlans = goHTTP ? try pids.map { try GoHTTPPlan.forProcess($0) } + exe.map { try GoHTTPPlan.forExecutable($0) } : []
        let libraryPids: [Int32?] = pids.isEmpty ? [nil] : pids.map { $0 }
        let sslPlans = try ssl.map { spec in
            try libraryPids.map { pid in
                try LibraryPlan.resolve(spec: spec.isEmpty ? nil : spec, defaultNames: ["libssl.so.3", "libssl.so"], pid: pid,
                                        functions: ["SSL_write", "SSL_write_ex", "SSL_read", "SSL_read_ex"], purpose: "--ssl")
            }
        } ?? []
        let mysqlPlans = try mysql.map { spec in
            try libraryPids.map { pid in
                try LibraryPlan.resolve(spec: spec.isEmpty ? nil : spec,
                                        defaultNames: ["libmariadb.so.3", "libmariadb.so", "libmysqlclient.so"], pid: pid,
                                        functions: ["mysql_real_query"], purpose: "--mysql")
            }
        } ?? []

        let sinks = try Sinks(console: !quiet, jsonPath: otlpJSON, endpoint: otlpEndpoint, environment: environment)
        // Listening before anything is attached: a taken port fails first.
        let metrics = try metricsAddr.map { try MetricsServer(listen: $0) }
        let resources = ResourceCache(plans: goPlans, environment: environment)
        let resource: @Sendable (UInt32) -> Resource = { resources.resource(for: $0) }
        let assembler = Mutex(SpanAssembler(clock: BootClock(), sampler: Sampler(ratio: sampleRatio),
                                            rawSQLLiterals: sqlLiterals, resource: resource))
        let spanCount = Counter(), unsampled = Counter()
        let emit: @Sendable ([Span]) -> Void = { spans in
            for span in spans {
                guard span.sampled else { unsampled.add(1); continue }
                spanCount.add(1)
                sinks.enqueue(span)
            }
        }

        // One ring buffer for every family: events arrive in the kernel's order,
        // so spans of different families can be joined into one trace.
        let shared = try SharedMaps(ringBufferBytes: ringBufferSize ?? SharedMaps.defaultRingBufferBytes)
        let families = AttachedFamilies()
        defer { families.detachAll() }
        func attached(_ family: any AttachedFamily, _ what: String) {
            families.append(family)
            Log.write("uprobe-trace: attached \(family.probeCount) probes to \(what)\n")
        }
        var firstGo: GoHTTPProbes?
        func attachGo(_ plan: GoHTTPPlan) throws {
            let p = try GoHTTPProbes(binaryPath: plan.attachPath, pid: plan.pid, offsets: plan.offsets, points: plan.points,
                                     shared: shared, peer: firstGo)
            firstGo = firstGo ?? p
            let who = plan.pid.map { "pid \($0) (\(plan.displayPath), \(plan.goVersion))" } ?? "\(plan.displayPath) (\(plan.goVersion), every process)"
            attached(p, "\(who): \(plan.functions.joined(separator: ", "))")
        }
        for plan in goPlans { try attachGo(plan) }
        for plan in sslPlans {
            let o = plan.offsets
            let p = try SSLProbes(libraryPath: plan.attachPath, pid: plan.pid, captureBytes: captureBytes,
                                  points: SSLProbes.points(write: o["SSL_write"], writeEx: o["SSL_write_ex"], read: o["SSL_read"], readEx: o["SSL_read_ex"]),
                                  shared: shared)
            attached(p, "\(plan.displayPath) (\(plan.pid.map { "pid \($0)" } ?? "every process")): \(o.keys.sorted().joined(separator: ", "))")
        }
        for plan in mysqlPlans {
            guard let offset = plan.offsets["mysql_real_query"] else { continue }
            let p = try MySQLProbes(libraryPath: plan.attachPath, pid: plan.pid, captureBytes: captureBytes, entryOffset: offset, shared: shared)
            attached(p, "\(plan.displayPath) (\(plan.pid.map { "pid \($0)" } ?? "every process")): mysql_real_query")
        }
        let received = FamilyCounts()
        let reader = try RingBufferReader(shared: shared) { bytes in
            received.count(record: bytes)
            emit(bytes.withUnsafeBytes { record in assembler.withLock { $0.consume(record) } })
        }
        reader.start()
        defer { reader.stop() }
        // Runs before the detach above: a scrape reads the BPF maps.
        defer { metrics?.stop() }
        if let metrics {
            metrics.start(render: SelfMetrics(families: families, shared: shared, received: received, sinks: sinks,
                                              spans: spanCount, startTime: Double(BootClock().unixNanos(fromBoot: started)) / 1e9).render)
            Log.write("uprobe-trace: metrics on http://\(metrics.address)/metrics\n")
        }

        let reason = Signals.wait(until: duration.map { BootClock.bootNanos() + UInt64($0 * 1e9) }, pids: pids) {
            // Uprobes belong to inodes: a new file at an --exe path, or a new program in a --pid, gets its own probes.
            for change in watch.changes() {
                do {
                    let plan: GoHTTPPlan
                    switch change {
                    case .replaced(let path):
                        Log.write("uprobe-trace: \(path) was replaced on disk; processes running the old file stay traced, attaching to the new one\n")
                        plan = try GoHTTPPlan.forExecutable(path)
                    case .exec(let pid):
                        let program = (try? ProcessImage(pid: pid).mainExecutable) ?? nil
                        Log.write("uprobe-trace: pid \(pid) exec'd \(program ?? "a program"); uprobes do not follow a pid into its new image, attaching again\n")
                        plan = try GoHTTPPlan.forProcess(pid)
                    }
                    resources.update(plan)
                    try attachGo(plan)
                } catch {
                    Log.note("\(error) (not traced; the tool keeps running)")
                }
            }
        }
        if case .processesExited(let gone) = reason {
            Log.write("uprobe-trace: traced process\(gone.count > 1 ? "es" : "") \(gone.map(String.init).joined(separator: ", ")) exited\n")
        }
        // Drain what the kernel already produced, then detach before flushing.
        reader.stop()
        let lost = lostByFamily(families.all, shared).map { "\($0.family) \($0.lost)" }.joined(separator: ", ")
        // Responses without a length end at the last write seen.
        emit(assembler.withLock { $0.flush() })
        let results = sinks.shutdown(timeout: 5)
        let exported = results.map { "\($0.counters.exported) to \($0.name)" }.joined(separator: ", ")
        let dropped = results.reduce(0) { $0 + $1.counters.dropped }
        let notSampled = unsampled.value > 0 ? ", \(unsampled.value) not sampled" : ""
        Log.write("uprobe-trace: \(spanCount.value) spans (\(exported.isEmpty ? "none exported" : "exported " + exported))\(notSampled), \(dropped) spans dropped, events lost in the kernel: \(lost)\n")
        if dropped > 0, let e = results.compactMap({ $0.counters.lastError }).first {
            Log.note("last export error: \(e)")
        }
        metrics?.stop()
        // Last, because it is slow: the kernel waits for an RCU grace period per
        // uprobe it removes (~150 ms each here, whether or not the process lives).
        let probes = families.all.reduce(0) { $0 + $1.probeCount }
        if probes > 8 { Log.write("uprobe-trace: detaching \(probes) probes (the kernel takes ~0.15 s each)\n") }
        families.detachAll()
    }
}

/// What the trace loop needs of an attached probe family.
protocol AttachedFamily: Sendable {
    /// The loaded BPF object (its links are the probes).
    var object: BPFObject { get }
    var probeCount: Int { get }
    func detach()
}

extension AttachedFamily {
    /// `go_http`, `openssl` or `mysql`: the BPF object's name, as in metrics and the summary.
    var familyName: String { object.name }
}

extension GoHTTPProbes: AttachedFamily {}
extension SSLProbes: AttachedFamily {}
extension MySQLProbes: AttachedFamily {}

/// The families attached so far (the main loop adds more when a target is
/// replaced or execs); shared with the metrics thread.
final class AttachedFamilies: Sendable {
    private let list = Mutex<[any AttachedFamily]>([])

    func append(_ family: any AttachedFamily) { list.withLock { $0.append(family) } }
    var all: [any AttachedFamily] { list.withLock { $0 } }

    /// Detaches every family and forgets it. Idempotent.
    func detachAll() {
        for f in list.withLock({ l in defer { l.removeAll() }; return l }) { f.detach() }
    }
}

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

/// Resources of traced processes, built once per pid: from the plans for
/// --pid, from /proc for processes found through --exe.
final class ResourceCache: Sendable {
    private let cache: Mutex<[UInt32: Resource]>
    private let environment: [String: String]
    private let goVersions: Mutex<[String: String]>

    init(plans: [GoHTTPPlan], environment: [String: String]) {
        self.environment = environment
        var versions: [String: String] = [:]
        for p in plans { versions[p.displayPath] = p.goVersion }
        goVersions = Mutex(versions)
        var known: [UInt32: Resource] = [:]
        for p in plans {
            if let pid = p.pid {
                known[UInt32(pid)] = TracedProcess(pid: UInt32(pid), executablePath: p.displayPath, goVersion: p.goVersion).resource(environment: environment)
            }
        }
        cache = Mutex(known)
    }

    func resource(for pid: UInt32) -> Resource {
        if let r = cache.withLock({ $0[pid] }) { return r }
        let exe = (try? ProcessImage(pid: Int32(bitPattern: pid)).mainExecutable) ?? nil
        let path = exe ?? "unknown"
        let r = TracedProcess(pid: pid, executablePath: path, goVersion: goVersions.withLock { $0[path] })
            .resource(environment: environment)
        cache.withLock { $0[pid] = r }
        return r
    }

    /// A plan made after start (a replaced --exe file, a --pid that exec'd).
    func update(_ plan: GoHTTPPlan) {
        if let pid = plan.pid {
            let r = TracedProcess(pid: UInt32(pid), executablePath: plan.displayPath, goVersion: plan.goVersion).resource(environment: environment)
            cache.withLock { $0[UInt32(pid)] = r }
        } else {
            goVersions.withLock { $0[plan.displayPath] = plan.goVersion }
        }
    }
}

/// The process environment as a dictionary (Foundation-free).
enum Environment {
    static var variables: [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }
}

/// SIGINT/SIGTERM/SIGHUP handling: blocked in every thread and taken
/// synchronously by the main thread, which also watches the traced pids.
enum Signals {
    enum StopReason { case signal(Int32), duration, processesExited([Int32]) }

    static let set: sigset_t = {
        var s = sigset_t()
        sigemptyset(&s)
        sigaddset(&s, SIGINT)
        sigaddset(&s, SIGTERM)
        sigaddset(&s, SIGHUP)
        return s
    }()

    /// Must run before any thread is started, so every thread inherits the mask.
    static func block() {
        var s = set
        pthread_sigmask(SIG_BLOCK, &s, nil)
    }

    /// Returns why to stop; reports each traced pid that exits while others live on,
    /// and calls `tick` about once a second.
    static func wait(until deadline: UInt64?, pids: [Int32], tick: () -> Void = {}) -> StopReason {
        var s = set
        var gone: [Int32] = []
        var nextTick = BootClock.bootNanos() + 1_000_000_000
        while true {
            var ts = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            let sig = sigtimedwait(&s, nil, &ts)
            if sig > 0 {
                // A second Ctrl-C while we flush forces the exit.
                signal(SIGINT, SIG_DFL)
                var one = sigset_t()
                sigemptyset(&one)
                sigaddset(&one, SIGINT)
                pthread_sigmask(SIG_UNBLOCK, &one, nil)
                return .signal(sig)
            }
            if let deadline, BootClock.bootNanos() >= deadline { return .duration }
            let exited = pids.filter { !gone.contains($0) && !isAlive($0) }
            if !exited.isEmpty {
                gone += exited
                if gone.count == pids.count { return .processesExited(gone) }
                let left = pids.filter { !gone.contains($0) }.map(String.init).joined(separator: ", ")
                Log.write("uprobe-trace: traced process \(exited.map(String.init).joined(separator: ", ")) exited; still tracing \(left)\n")
            }
            if BootClock.bootNanos() >= nextTick {
                tick()
                nextTick = BootClock.bootNanos() + 1_000_000_000
            }
        }
    }

    /// Alive and not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        let fd = open("/proc/\(pid)/stat", O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 512)
        let n = read(fd, &buf, buf.count)
        guard n > 0, let close = buf[0..<n].lastIndex(of: UInt8(ascii: ")")), close + 2 < n else { return true }
        return buf[close + 2] != UInt8(ascii: "Z")
    }
}
