import TraceEvents

/// Every probe family, in the order `trace` attaches them and auto-detection
/// reports them. Adding a family: its folder, one line here, one index in
/// `enum ut_probe_family` (see docs/ADDING_A_FAMILY.md).
public enum ProbeFamilies {
    public static let all: [any ProbeFamily.Type] = [
        GoHTTPFamily.self,
        OpenSSLFamily.self,
        MySQLFamily.self,
    ]

    /// The family with this flag (`go-http`).
    public static func withFlag(_ flag: String) -> (any ProbeFamily.Type)? {
        all.first { $0.flag == flag }
    }

    /// The family with this `enum ut_probe_family` index.
    public static func withID(_ id: ut_probe_family) -> (any ProbeFamily.Type)? {
        all.first { $0.id == id }
    }
}
