import Foundation

/// The name of a BPF program (a `SEC("uprobe")` function) of an object.
/// Families get these from the constants the BPFCompiler plugin generates for
/// each `*.bpf.c`, so a program renamed in C breaks the Swift build.
public struct BPFProgramName: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// The name of a BPF map (`SEC(".maps")`) of an object; see `BPFProgramName`.
public struct BPFMapName: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// The name of a global variable of an object (a `const volatile` one is set
/// before load); see `BPFProgramName`.
public struct BPFGlobalName: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// What `common.bpf.h` gives every object: the shared ring buffer, the
/// per-family lost counters and the read-only config (`struct ut_config`).
public enum CommonBPF {
    /// `ut_events`: the ring buffer every family writes its records to.
    public static let events = BPFMapName("ut_events")
    /// `ut_lost`: per-CPU lost-record counters, index = `enum ut_probe_family`.
    public static let lost = BPFMapName("ut_lost")
    /// `ut_cfg`: `struct ut_config`, set before load.
    public static let config = BPFGlobalName("ut_cfg")
}

/// A BPF ELF object compiled into the binary by the BPFCompiler plugin.
public struct EmbeddedBPFObject: Sendable {
    /// The `*.bpf.c` stem: `go_http`, `openssl`, `mysql`.
    public let name: String
    private let base64: String

    public init(name: String, base64: String) {
        self.name = name
        self.base64 = base64
    }

    /// The ELF object's bytes. The plugin wrote the literal from `base64 -w0`
    /// output: decoding cannot fail for a good build.
    public var bytes: [UInt8] { [UInt8](Data(base64Encoded: base64) ?? Data()) }
}
