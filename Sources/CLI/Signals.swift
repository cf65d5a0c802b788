import SystemSupport
import Tracing

#if canImport(Glibc)
import Glibc
#endif

/// The process environment as a dictionary (Foundation-free).
enum Environment {
    static var variables: [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }
}

/// SIGINT/SIGTERM/SIGHUP handling: blocked in every thread and taken
/// synchronously by the main thread, which also watches the traced pids.
enum Signals {
    enum StopReason { case signal(Int32), duration, processesExited([Int32]) }

    static let set: sigset_t = {
        var s = sigset_t()
        sigemptyset(&s)
        sigaddset(&s, SIGINT)
        sigaddset(&s, SIGTERM)
        sigaddset(&s, SIGHUP)
        return s
    }()

    /// Must run before any thread is started, so every thread inherits the mask.
    static func block() {
        var s = set
        pthread_sigmask(SIG_BLOCK, &s, nil)
    }

    /// Returns why to stop; reports each traced pid that exits while others live on,
    /// and calls `tick` about once a second.
    static func wait(until deadline: UInt64?, pids: [Int32], tick: () -> Void = {}) -> StopReason {
        var s = set
        var gone: [Int32] = []
        var nextTick = BootClock.bootNanos() + 1_000_000_000
        while true {
            var ts = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            let sig = sigtimedwait(&s, nil, &ts)
            if sig > 0 {
                // A second Ctrl-C while we flush forces the exit.
                signal(SIGINT, SIG_DFL)
                var one = sigset_t()
                sigemptyset(&one)
                sigaddset(&one, SIGINT)
                pthread_sigmask(SIG_UNBLOCK, &one, nil)
                return .signal(sig)
            }
            if let deadline, BootClock.bootNanos() >= deadline { return .duration }
            let exited = pids.filter { !gone.contains($0) && !isAlive($0) }
            if !exited.isEmpty {
                gone += exited
                if gone.count == pids.count { return .processesExited(gone) }
                let left = pids.filter { !gone.contains($0) }.map(String.init).joined(separator: ", ")
                Log.write("uprobe-trace: traced process \(exited.map(String.init).joined(separator: ", ")) exited; still tracing \(left)\n")
            }
            if BootClock.bootNanos() >= nextTick {
                tick()
                nextTick = BootClock.bootNanos() + 1_000_000_000
            }
        }
    }

    /// Alive and not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        // Unreadable: gone; unparsable: alive.
        guard case .success(let bytes) = FileDescriptorIO.readFile("/proc/\(pid)/stat", chunkSize: 1024) else { return false }
        return !(ProcStat(parsing: bytes)?.isZombie ?? false)
    }
}
