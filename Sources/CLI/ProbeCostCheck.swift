import Attach
import Symbols
#if canImport(Glibc)
import Glibc
#endif

/// `doctor`'s measurement of what a uprobe hit costs here: the two numbers that
/// matter, emulated vs single-stepped microseconds per hit (DESIGN.md, Cost model).
///
/// The kernel-facing part is `Attach.ProbeCost`; this finds its two functions in
/// this executable: runtime address → the `/proc/self/maps` mapping holding it →
/// file offset in `/proc/self/exe` (works on stripped builds: no symbol lookup).
enum ProbeCostCheck {
    /// Where `ProbeCost`'s two functions start in `/proc/self/exe`.
    static func sites() throws -> (emulated: ProbeCost.Site, singleStepped: ProbeCost.Site) {
        let maps = try ProcMaps.read(pid: getpid())
        func site(_ address: UInt64) throws -> ProbeCost.Site {
            guard let m = maps.entries.first(where: { $0.contains(address: address) && $0.permissions.execute }) else {
                throw ProbeCostCheckError(text: "address 0x\(String(address, radix: 16)) is in no executable mapping of this process")
            }
            return ProbeCost.Site(path: "/proc/self/exe", fileOffset: address - m.start + m.offset)
        }
        return (try site(ProbeCost.emulatedFunctionAddress), try site(ProbeCost.singleSteppedFunctionAddress))
    }

    /// Measures both classes (about 0.2 s; needs the privilege to create uprobes).
    static func measure() throws -> ProbeCost.Result {
        let s = try sites()
        return try ProbeCost.measure(emulated: s.emulated, singleStepped: s.singleStepped)
    }

    /// The report line: `emulated 0.72 µs, single-stepped 10.9 µs per uprobe hit (...)`.
    static func describe(_ r: ProbeCost.Result) -> String {
        func us(_ v: Double) -> String {
            let hundredths = Int((v * 100).rounded())
            return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) µs"
        }
        return "emulated \(us(r.emulated)), single-stepped \(us(r.singleStepped)) per uprobe hit "
            + "(push %rbp vs sub $8,%rsp in this process, thread CPU time)"
    }

    /// The `probe_cost` line of `doctor`: ok with both numbers, or a warning saying why not.
    static func doctorCheck() -> DoctorCheck {
        do {
            return .ok("probe_cost", describe(try measure()))
        } catch let e as AttachError {
            return .warn("probe_cost", "not measured: \(e.description)", fix: "run doctor as root to see what a uprobe hit costs here")
        } catch {
            return .warn("probe_cost", "not measured: \(error)", fix: "run doctor from a readable executable file")
        }
    }
}

/// Why the probe-cost sites could not be located.
struct ProbeCostCheckError: Error, CustomStringConvertible {
    let text: String
    var description: String { text + "; hint: this is a bug, report it with /proc/self/maps" }
}
