#if canImport(Glibc)
import Glibc
#endif

/// What the resource of a traced process is made of (OTel resource semantic
/// conventions); the CLI fills it from /proc and the binary's build info.
public struct TracedProcess: Sendable, Hashable {
    public var pid: UInt32
    public var executablePath: String
    /// `go1.19.8` for Go programs, nil otherwise.
    public var goVersion: String?

    public init(pid: UInt32, executablePath: String, goVersion: String? = nil) {
        self.pid = pid
        self.executablePath = executablePath
        self.goVersion = goVersion
    }

    /// The resource: service.name from OTEL_SERVICE_NAME, else the executable's name.
    public func resource(environment: [String: String]) -> Resource {
        let exeName = executablePath.split(separator: "/").last.map(String.init) ?? executablePath
        var attrs: [Attribute] = [
            .string("service.name", environment["OTEL_SERVICE_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? exeName),
            .int("process.pid", Int64(pid)),
            .string("process.executable.name", exeName),
            .string("process.executable.path", executablePath),
        ]
        if let goVersion {
            attrs.append(.string("process.runtime.name", "go"))
            attrs.append(.string("process.runtime.version", goVersion))
        }
        attrs.append(.string("host.name", TracedProcess.hostName))
        attrs.append(.string("telemetry.sdk.name", "uprobe-trace"))
        attrs.append(.string("telemetry.sdk.language", "swift"))
        attrs.append(.string("telemetry.sdk.version", TracedProcess.toolVersion))
        return Resource(attributes: attrs)
    }

    public static let toolVersion = "0.1.0"

    public static let hostName: String = {
        var buf = [UInt8](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "unknown" }
        return String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
    }()
}
