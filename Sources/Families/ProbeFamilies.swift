import TraceEvents

/// Every probe family, in the order `trace` attaches them and auto-detection
/// reports them. Adding a family: its folder, one line here, one index in
/// `enum ut_probe_family` (see docs/ADDING_A_FAMILY.md).
public enum ProbeFamilies {
    public static let all: [any ProbeFamily.Type] = [
        GoHTTPFamily.self,
        OpenSSLFamily.self,
        MySQLFamily.self,
        PostgresFamily.self,
        GoGRPCFamily.self,
        SystemFamily.self,
    ]
}
