import Foundation
import Testing

/// The Go fixture binaries of testdata/ (built by testdata/build.sh) and
/// small helpers to compare against the Go toolchain's own tools.
enum GoFixtures {
    static let testdata: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("testdata")

    static let names = [
        "go-server", "go-server-stripped", "go-server-pie",
        "go-client", "go-client-stripped", "go-client-pie",
    ]

    static func path(_ name: String) -> String { testdata.appendingPathComponent("bin/\(name)").path }

    /// Builds the fixtures once if any is missing. Returns nil when they are
    /// there, else why not (the caller fails under CI=true and skips otherwise).
    static let unavailable: String? = {
        if names.allSatisfy({ FileManager.default.fileExists(atPath: path($0)) }) { return nil }
        let (status, out) = run(["bash", testdata.appendingPathComponent("build.sh").path])
        if status != 0 { return "testdata/build.sh failed (\(status)): \(out)" }
        let missing = names.filter { !FileManager.default.fileExists(atPath: path($0)) }
        return missing.isEmpty ? nil : "testdata/build.sh did not produce \(missing)"
    }()

    /// Whether the fixtures exist; records an issue under CI=true when they do not.
    static func available() -> Bool {
        guard let why = unavailable else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("Go fixtures unavailable: \(why)")
        } else {
            print("skipping: Go fixtures unavailable: \(why)")
        }
        return false
    }

    /// Runs a command (looked up on PATH), returning its exit status and stdout+stderr.
    static func run(_ argv: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        var env = ProcessInfo.processInfo.environment
        env["GOFLAGS"] = "-mod=mod"
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(argv[0]): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A deterministic generator for fuzz-style tests (SplitMix64).
    struct SeededRNG: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// The file's bytes with the section header table removed from the ELF
    /// header (e_shoff, e_shnum, e_shstrndx = 0), as some packers and
    /// `strip --strip-section-headers` leave binaries.
    static func withoutSectionHeaders(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        for i in 40..<48 { b[i] = 0 }
        for i in 60..<64 { b[i] = 0 }
        return b
    }
}
