import Symbols

/// Decides which families attach where, before anything is attached: every
/// target is checked first, so a bad one fails the command cleanly.
///
/// With families chosen (`--go-http`, `--ssl`, ...) each is planned for every
/// target and any failure is an error. With none chosen, every family is tried
/// on each `--pid` (auto-detection): the ones with nothing to probe there are
/// skipped with their reason, and a process where none applies is an error.
public struct FamilyPlanner: Sendable {
    /// A family the user named, with the flag's value (a library path or name; nil: find it).
    public struct Choice: Sendable {
        public let family: any ProbeFamily.Type
        public let spec: String?
        public init(_ family: any ProbeFamily.Type, spec: String? = nil) {
            self.family = family
            self.spec = spec
        }
    }

    /// What auto-detection decided for one family on one process.
    public struct Decision: Sendable, CustomStringConvertible {
        public let family: String
        public let pid: Int32
        /// nil: attached; otherwise why not.
        public let skipped: String?
        public var description: String {
            skipped.map { "\(family) skipped: \($0)" } ?? "\(family) applies"
        }
    }

    public let choices: [Choice]
    public let options: TraceOptions

    /// - Parameter choices: the families the user named; empty: detect them.
    public init(choices: [Choice], options: TraceOptions) {
        self.choices = choices
        self.options = options
    }

    /// No family named but opt-in ones (`--syscalls`, `--tcp`), which add to what is detected.
    public var autoDetect: Bool { choices.allSatisfy { $0.family.optIn } }

    /// The plans for all targets (processes, then executables; with no process,
    /// the library families probe their library file for every process).
    /// `decisions` receives what auto-detection chose and skipped, per pid
    /// (when nothing applies, the error says why instead).
    public func plans(pids: [Int32], executables: [String], decisions: (([Decision]) -> Void)? = nil) throws -> [FamilyPlan] {
        var plans: [FamilyPlan] = []
        for pid in pids { plans += try self.plans(for: .process(pid), decisions: decisions) }
        for path in executables { plans += try self.plans(for: .executable(path), decisions: decisions) }
        if pids.isEmpty && !autoDetect {
            // Library families without a process: the library file itself.
            for choice in choices where !Self.programFamilies.contains(where: { $0.id == choice.family.id }) {
                plans.append(try plan(choice.family, .host, spec: choice.spec))
            }
        }
        return plans
    }

    /// The families that probe a program's own code (`--exe` applies to them; no library file of their own).
    static let programFamilies: [any ProbeFamily.Type] = [GoHTTPFamily.self, GoGRPCFamily.self]

    /// The plans for one target.
    public func plans(for target: TraceTarget, decisions: (([Decision]) -> Void)? = nil) throws -> [FamilyPlan] {
        if case .executable = target {
            // An executable file: only families that probe a program's own code.
            let families = Self.programFamilies.filter { f in autoDetect || choices.contains { $0.family.id == f.id } }
            var plans: [FamilyPlan] = []
            var firstSkip: Error?
            for family in families {
                do {
                    plans.append(try family.plan(target, spec: nil, options: options))
                } catch let e as FamilyError where autoDetect {
                    guard case .notApplicable = e else { throw e }
                    firstSkip = firstSkip ?? e
                }
            }
            if plans.isEmpty, let firstSkip { throw firstSkip }
            return plans
        }
        guard autoDetect, case .process(let pid) = target else {
            return try choices.map { try plan($0.family, target, spec: $0.spec) }
        }
        var plans: [FamilyPlan] = []
        var made: [Decision] = []
        for family in ProbeFamilies.all {
            let flag = family.flag
            let optIn = choices.first { $0.family.id == family.id }
            if family.optIn && optIn == nil { continue }
            do {
                plans.append(try plan(family, target, spec: optIn?.spec))
                made.append(Decision(family: flag, pid: pid, skipped: nil))
            } catch {
                if let e = error as? SymbolsError, e.isAboutTheProcess { throw e }
                made.append(Decision(family: flag, pid: pid, skipped: (error as? FamilyError)?.reason ?? "\(error)"))
            }
        }
        guard !plans.isEmpty else {
            let reasons = made.map { "\($0.family): \($0.skipped ?? "")" }.joined(separator: "; ")
            throw FamilyError.notApplicable(family: "", reason: "pid \(pid): nothing to trace (\(reasons))",
                                            hint: "uprobe-trace traces \(ProbeFamilies.all.map { $0.traces }.joined(separator: ", ")); name a library with --ssl PATH or --mysql PATH if the process loads it under another name")
        }
        decisions?(made)
        return plans
    }

    private func plan(_ family: any ProbeFamily.Type, _ target: TraceTarget, spec: String?) throws -> FamilyPlan {
        try family.plan(target, spec: spec, options: options)
    }
}

extension SymbolsError {
    /// The process itself vanished or cannot be read: every family fails the same way.
    var isAboutTheProcess: Bool {
        switch self {
        case .noSuchProcess, .processAccessDenied: return true
        default: return false
        }
    }
}
