import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The outcome of one kernel feature check (`KernelFeatures`), as
/// `uprobe-trace doctor` reports it: one line with its fix.
public struct FeatureCheck: Sendable, Equatable {
    /// ok: works; warn: tracing works, but something is off or unknown;
    /// fail: tracing cannot work.
    public enum Status: String, Sendable { case ok, warn, fail }

    /// The check's stable name (`ring_buffer`, `uprobe_multi`, ...).
    public let name: String
    public let status: Status
    /// What was found, in one sentence.
    public let detail: String
    /// A concrete action; nil exactly when the status is ok.
    public let fix: String?

    public static func ok(_ name: String, _ detail: String) -> FeatureCheck {
        .init(name: name, status: .ok, detail: detail, fix: nil)
    }
    public static func warn(_ name: String, _ detail: String, fix: String) -> FeatureCheck {
        .init(name: name, status: .warn, detail: detail, fix: fix)
    }
    public static func fail(_ name: String, _ detail: String, fix: String) -> FeatureCheck {
        .init(name: name, status: .fail, detail: detail, fix: fix)
    }
}

/// A kernel release's (major, minor), from `uname -r`.
public struct KernelVersion: Sendable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
    public var description: String { "\(major).\(minor)" }
}

extension KernelVersion {
    /// Parses the leading "MAJOR.MINOR" of a release string ("6.18.0-1-amd64").
    public init?(release: String) {
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return nil }
        self.init(major: parts[0], minor: parts[1])
    }
}

/// This process's effective capabilities (CapEff of /proc/self/status).
public struct Capabilities: Sendable {
    /// Capability numbers from linux/capability.h.
    public enum Cap: Int, CaseIterable, Sendable {
        case sysPtrace = 19, sysAdmin = 21, sysResource = 24, perfmon = 38, bpf = 39
        public var name: String {
            switch self {
            case .sysPtrace: "CAP_SYS_PTRACE"
            case .sysAdmin: "CAP_SYS_ADMIN"
            case .sysResource: "CAP_SYS_RESOURCE"
            case .perfmon: "CAP_PERFMON"
            case .bpf: "CAP_BPF"
            }
        }
    }

    /// The CapEff bit mask, nil when /proc/self/status could not be read.
    public let effective: UInt64?

    /// Reads CapEff from /proc/self/status.
    public static func current() -> Capabilities {
        let mask = SmallFile.text("/proc/self/status")?
            .split(separator: "\n").first { $0.hasPrefix("CapEff:") }
            .flatMap { UInt64($0.dropFirst("CapEff:".count).trimmingBlanks(), radix: 16) }
        return Capabilities(effective: mask)
    }

    public func has(_ c: Cap) -> Bool { (effective ?? 0) & (1 << UInt64(c.rawValue)) != 0 }
}

/// Reads small procfs/sysfs files, whose size stat() reports as 0 or 4096.
public enum SmallFile {
    /// The whole file as text, nil if it cannot be opened or read (`open`/`read`, EINTR retried).
    public static func text(_ path: String) -> String? {
        guard case .success(let bytes) = FileDescriptorIO.readFile(path, chunkSize: 16 * 1024) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and newlines.
    func trimmingBlanks() -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
