import Attach
import Symbols
import TraceEvents
import Tracing

/// A probe family: everything one kind of traced code needs — its BPF C (the
/// `*.bpf.c` beside it), where it attaches (`plan`), and how its records
/// become spans (`makeDecoder`). Each lives in one folder of `Sources/Families`
/// and is listed once, in `ProbeFamilies.all`.
public protocol ProbeFamily: Sendable {
    /// Its index in `enum ut_probe_family` (trace_events.h), the high byte of its event kinds.
    static var id: ut_probe_family { get }
    /// The `trace` flag that chooses it, without dashes: `go-http`.
    static var flag: String { get }
    /// What `--pid PID` with no family flag tries, in the stderr line: "Go net/http".
    static var traces: String { get }
    /// Auto-detection leaves it out unless its flag is given; its flag then
    /// adds it to what `--pid` detects instead of narrowing the choice.
    static var optIn: Bool { get }

    /// Where this family's probes go for `target`. `spec` is the flag's value
    /// (a library path or name), nil when the flag came without one or when
    /// auto-detecting. Throws `FamilyError.notApplicable` when there is nothing
    /// for this family there (auto-detection then skips it and says why); any
    /// other error is a real failure.
    static func plan(_ target: TraceTarget, spec: String?, options: TraceOptions) throws -> FamilyPlan

    /// A fresh decoder of this family's records.
    static func makeDecoder(_ setup: DecoderSetup) -> any FamilyDecoder
}

extension ProbeFamily {
    public static var optIn: Bool { false }

    /// `go_http`, `openssl`, `mysql`: its BPF object, metrics label and summary name.
    public static var name: String { familyName(id) }
}

/// The name trace_events.h gives family `id`.
public func familyName(_ id: ut_probe_family) -> String {
    ut_family_name(id.rawValue).map { String(cString: $0) } ?? "family\(id.rawValue)"
}

/// Where the user asked to trace.
public enum TraceTarget: Sendable, Equatable {
    /// A running process (`--pid`).
    case process(Int32)
    /// Every process running this executable, later ones too (`--exe`).
    case executable(String)
    /// No process named: a library family probes the library file itself, in every process that maps it.
    case host

    /// The process, when the target is one.
    public var pid: Int32? {
        if case .process(let pid) = self { return pid }
        return nil
    }
}

/// The `trace` options the families read.
public struct TraceOptions: Sendable {
    /// Plaintext / statement bytes copied per call, at most `UT_CAPTURE_MAX`.
    public var captureBytes: UInt32
    /// Export SQL with its literals.
    public var sqlLiterals: Bool
    /// Probe library functions at their entries even where a cheaper exact site
    /// exists: only to measure what the cheap sites save (`UPROBE_TRACE_ENTRY_SITES=1`).
    public var entrySites: Bool

    /// The environment variable that sets `entrySites`.
    public static let entrySitesVariable = "UPROBE_TRACE_ENTRY_SITES"

    public init(captureBytes: UInt32 = 1024, sqlLiterals: Bool = false, entrySites: Bool = false) {
        self.captureBytes = min(captureBytes, UInt32(UT_CAPTURE_MAX))
        self.sqlLiterals = sqlLiterals
        self.entrySites = entrySites
    }
}

/// One BPF object to load and attach, as a family planned it.
public struct FamilyPlan: Sendable {
    public let family: ut_probe_family
    public let request: ProbeRequest
    /// The probed file as the process (or host) names it.
    public let displayPath: String
    /// For the "attached N probes to …" line: the target and the functions.
    public let summary: String
    /// The traced program's Go version (`process.runtime.version`), if Go.
    public let goVersion: String?
    /// Placement decisions the user should hear about (a probe left on a single-stepped instruction, and why).
    public let notes: [String]

    public init(family: ut_probe_family, request: ProbeRequest, displayPath: String, summary: String, goVersion: String? = nil,
                notes: [String] = []) {
        self.family = family
        self.notes = notes
        self.request = request
        self.displayPath = displayPath
        self.summary = summary
        self.goVersion = goVersion
    }
}

/// What a decoder needs from the trace session.
public struct DecoderSetup: Sendable {
    public let clock: BootClock
    public let sampler: Sampler
    public let options: TraceOptions
    public let resource: @Sendable (UInt32) -> Resource

    public init(clock: BootClock, sampler: Sampler, options: TraceOptions, resource: @escaping @Sendable (UInt32) -> Resource) {
        self.clock = clock
        self.sampler = sampler
        self.options = options
        self.resource = resource
    }
}

/// Turns one family's ring-buffer records into spans.
public protocol FamilyDecoder: Sendable {
    /// Whether `consume` wants the span a server of another family is serving
    /// on the record's thread (e.g. a query made for a TLS request).
    var wantsThreadParent: Bool { get }
    /// Decodes one record of this family (`kind`); returns the spans it
    /// completed, or nil when the record cannot be decoded.
    mutating func consume(_ record: UnsafeRawBufferPointer, kind: UInt32, threadParent: SpanContext?) -> [Span]?
    /// The server span in progress on a thread, for children of other families (thread-per-request servers).
    func serverSpan(pid: UInt32, tid: UInt32) -> SpanContext?
    /// Ends what can be ended without more data; at shutdown.
    mutating func flush() -> [Span]
}

extension FamilyDecoder {
    public var wantsThreadParent: Bool { false }
    public func serverSpan(pid: UInt32, tid: UInt32) -> SpanContext? { nil }
    public mutating func flush() -> [Span] { [] }
}

/// Why a family cannot trace a target; each message ends in a hint.
public enum FamilyError: Error, Sendable, CustomStringConvertible {
    /// Nothing for the family there (auto-detection skips it with this reason).
    case notApplicable(family: String, reason: String, hint: String)
    case wrongMachine(target: String, machine: String)
    case missingFunctions(library: String, functions: [String], flag: String)

    public var description: String {
        switch self {
        case .notApplicable(_, let reason, let hint):
            return "\(reason); hint: \(hint)"
        case .wrongMachine(let t, let m):
            return "\(t) is a \(m) program; hint: uprobe-trace attaches to x86-64 programs only"
        case .missingFunctions(let lib, let fs, let flag):
            return "\(lib) defines none of \(fs.joined(separator: ", ")); hint: --\(flag) needs the library that exports them; check with `uprobe-trace symbols dump \(lib) --grep \(fs.first ?? "")`"
        }
    }

    /// The reason alone, for "skipped: …" lines.
    public var reason: String {
        if case .notApplicable(_, let reason, _) = self { return reason }
        return description
    }
}
