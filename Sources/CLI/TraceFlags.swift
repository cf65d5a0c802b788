import ArgumentParser
import Families

#if canImport(Glibc)
import Glibc
#endif

/// `trace`'s family flags: which families to attach (none: detect them per
/// --pid) and what they copy.
struct FamilyFlags: ParsableArguments {
    @Flag(name: .customLong("go-http"), help: "Trace Go net/http servers (ServeHTTP) and clients (Transport.roundTrip).")
    var goHTTP = false

    @Flag(name: .customLong("go-grpc"), help: "Trace Go gRPC servers and clients (google.golang.org/grpc): a span per call, unary or streaming.")
    var goGRPC = false

    @Option(name: .customLong("ssl"), help: ArgumentHelp("Trace HTTP/1.x over OpenSSL (SSL_read/SSL_write). The value is optional: a libssl path or name; omitted: the libssl the --pid maps, else the host's libssl.so.3.", valueName: "libssl"))
    var ssl: String?

    @Option(name: .customLong("mysql"), help: ArgumentHelp("Trace mysql_real_query. The value is optional: a libmariadb/libmysqlclient path or name; omitted: the one the --pid maps, else the host's.", valueName: "library"))
    var mysql: String?

    @Option(name: .customLong("postgres"), help: ArgumentHelp("Trace libpq statements (PQexec, PQexecParams, PQprepare/PQexecPrepared, PQsendQuery*/PQgetResult). The value is optional: a libpq path or name; omitted: the one the --pid maps, else the host's libpq.so.5.", valueName: "library"))
    var postgres: String?

    @Flag(name: .customLong("syscalls"), help: "Count each syscall of the --pid processes with a latency histogram (kernel-side; on --metrics-addr and in a table at exit). Opt-in: adds to the families --pid detects.")
    var syscalls = false

    @Flag(name: .customLong("tcp"), help: "TCP of the --pid processes: a 'tcp connect' span per outbound connect, connection, byte and connect-error counters on --metrics-addr. Opt-in like --syscalls.")
    var tcp = false

    @Option(name: .customLong("capture-bytes"), help: ArgumentHelp("Bytes of TLS plaintext / SQL text copied per call (max 8192). Longer statements are marked truncated.", valueName: "n"))
    var captureBytes: UInt32 = 1024

    @Flag(name: .customLong("sql-literals"), help: "Export SQL statements as written; by default literals are replaced with ?.")
    var sqlLiterals = false

    var options: TraceOptions {
        TraceOptions(captureBytes: captureBytes, sqlLiterals: sqlLiterals,
                     entrySites: getenv(TraceOptions.entrySitesVariable).map { String(cString: $0) } == "1")
    }

    /// The families named on the command line; empty: detect them per --pid.
    var choices: [FamilyPlanner.Choice] {
        var out: [FamilyPlanner.Choice] = []
        if goHTTP { out.append(.init(GoHTTPFamily.self)) }
        if goGRPC { out.append(.init(GoGRPCFamily.self)) }
        if let ssl { out.append(.init(OpenSSLFamily.self, spec: ssl.isEmpty ? nil : ssl)) }
        if let mysql { out.append(.init(MySQLFamily.self, spec: mysql.isEmpty ? nil : mysql)) }
        if let postgres { out.append(.init(PostgresFamily.self, spec: postgres.isEmpty ? nil : postgres)) }
        if syscalls || tcp { out.append(.init(SystemFamily.self, spec: [syscalls ? "syscalls" : nil, tcp ? "tcp" : nil].compactMap { $0 }.joined(separator: ","))) }
        return out
    }
}

/// Where `trace` sends spans besides the console.
struct ExportFlags: ParsableArguments {
    @Option(name: .customLong("otlp-endpoint"), help: ArgumentHelp("Send spans and request metrics to this OpenTelemetry collector: OTLP/HTTP adds …/v1/traces and …/v1/metrics; gRPC takes it as it is (default port 4317). https:// is TLS.", valueName: "url"))
    var otlpEndpoint: String?

    @Option(name: .customLong("otlp-protocol"), help: ArgumentHelp("grpc, http/protobuf (default) or http/json; else OTEL_EXPORTER_OTLP_PROTOCOL (and its _TRACES_/_METRICS_ forms).", valueName: "protocol"))
    var otlpProtocol: String?

    @Option(name: .customLong("otlp-json"), help: ArgumentHelp("Write spans as OTLP JSON lines to this file ('-' for stdout).", valueName: "file"))
    var otlpJSON: String?

    @Flag(help: "Do not print spans on stdout (export only).")
    var quiet = false
}
