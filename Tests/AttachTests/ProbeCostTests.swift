import Foundation
import Testing
@testable import Attach
import Symbols

/// `ProbeCost` on this test process's own copy of the two probe-cost functions.
/// Asserts only what holds on a loaded machine: both numbers positive and finite,
/// and the measurement short enough for `doctor`. Which class is cheaper is the
/// benchmark's business (Benchmarks/probe-cost.sh), not a test's.
@Suite struct ProbeCostTests {
    func sites() throws -> (ProbeCost.Site, ProbeCost.Site) {
        let maps = try ProcMaps.read(pid: getpid())
        func site(_ address: UInt64) throws -> ProbeCost.Site {
            let m = try #require(maps.entries.first { $0.contains(address: address) && $0.permissions.execute })
            return ProbeCost.Site(path: "/proc/self/exe", fileOffset: address - m.start + m.offset)
        }
        return (try site(ProbeCost.emulatedFunctionAddress), try site(ProbeCost.singleSteppedFunctionAddress))
    }

    @Test func measuresBothClassesAsRoot() throws {
        guard getuid() == 0 else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("needs root") } else { print("skipping: needs root") }
            return
        }
        let (emulated, singleStepped) = try sites()
        let start = Date()
        let r = try ProbeCost.measure(emulated: emulated, singleStepped: singleStepped)
        let elapsed = Date().timeIntervalSince(start)
        print("probe cost: emulated \(r.emulated) µs, single-stepped \(r.singleStepped) µs per hit, measured in \(elapsed) s")
        #expect(r.emulated.isFinite && r.emulated > 0)
        #expect(r.singleStepped.isFinite && r.singleStepped > 0)
        #expect(elapsed < 3, "doctor waits for this")
    }

    /// A site that is not the measured function (here: the other one) is caught
    /// by the hit count instead of turning into a number.
    @Test func refusesASiteTheCallsDoNotHitAsRoot() throws {
        guard getuid() == 0 else { return }
        let (emulated, singleStepped) = try sites()
        #expect {
            try ProbeCost.measure(emulated: singleStepped, singleStepped: emulated)
        } throws: { error in
            guard case AttachError.state(let text)? = error as? AttachError else { return false }
            return text.contains("counted 0 hits")
        }
    }
}
