import Families
import Symbols
import Synchronization
import Tracing

/// Resources of traced processes, built once per pid: from the plans for
/// --pid, from /proc for processes found through --exe.
final class ResourceCache: Sendable {
    private let cache: Mutex<[UInt32: Resource]>
    private let environment: [String: String]
    private let goVersions: Mutex<[String: String]>

    /// Seeded from the plans that probe a program's own code (Go): they know its path and version.
    init(plans: [FamilyPlan], environment: [String: String]) {
        self.environment = environment
        cache = Mutex([:])
        goVersions = Mutex([:])
        for p in plans { update(p) }
    }

    func resource(for pid: UInt32) -> Resource {
        if let r = cache.withLock({ $0[pid] }) { return r }
        let exe = (try? ProcessImage(pid: Int32(bitPattern: pid)).mainExecutable) ?? nil
        let path = exe ?? "unknown"
        let r = TracedProcess(pid: pid, executablePath: path, goVersion: goVersions.withLock { $0[path] })
            .resource(environment: environment)
        cache.withLock { $0[pid] = r }
        return r
    }

    /// A plan made at start or later (a replaced --exe file, a --pid that exec'd).
    func update(_ plan: FamilyPlan) {
        guard let goVersion = plan.goVersion else { return }
        if let pid = plan.request.pid {
            let r = TracedProcess(pid: UInt32(pid), executablePath: plan.displayPath, goVersion: goVersion).resource(environment: environment)
            cache.withLock { $0[UInt32(pid)] = r }
        } else {
            goVersions.withLock { $0[plan.displayPath] = goVersion }
        }
    }
}
