#if canImport(Glibc)
import Glibc
#endif
import SystemSupport

/// Notices when a traced executable changes under the tool. Uprobes belong to
/// an inode, not a path, so two events need new probes:
/// - a file given to `--exe` is replaced on disk (a deploy writes a new file and
///   renames it over the old path): processes still running the old file stay
///   traced, but ones started from the new file would not be;
/// - a `--pid` execs: its perf events stay, but the kernel does not put their
///   breakpoints into the new image, not even when it is the same file (seen on
///   Linux 6.18: the text of a re-exec'd Go server carries no int3).
/// Polled from the main loop (a `stat` per target and second; a read of
/// /proc/PID/stat per pid).
struct ExecutableWatch {
    enum Change: Equatable {
        /// `path` now names another file.
        case replaced(path: String)
        /// `pid` now runs another executable.
        case exec(pid: Int32)
    }

    private struct FileID: Equatable {
        var device: UInt64
        var inode: UInt64
        /// For a process: where its stack starts, which every exec randomizes (ASLR),
        /// so an exec of the same file is seen too.
        var startStack: UInt64 = 0
        /// For a process: its start time, which an exec keeps and a new process
        /// reusing the pid does not.
        var startTime: UInt64 = 0
    }

    private var paths: [(path: String, id: FileID?)]
    private var pids: [(pid: Int32, id: FileID?)]

    /// Takes each target's current file identity; call it before planning the probes,
    /// so a change that races with attaching is seen rather than missed.
    init(paths: [String], pids: [Int32]) {
        self.paths = paths.map { ($0, Self.identity($0)) }
        self.pids = pids.map { ($0, Self.identity(pid: $0)) }
    }

    /// Targets whose file changed since the last call. A path missing for a moment
    /// (mid-deploy) or a pid that exited is not a change.
    mutating func changes() -> [Change] {
        var out: [Change] = []
        for i in paths.indices {
            guard let id = Self.identity(paths[i].path), id != paths[i].id else { continue }
            paths[i].id = id
            out.append(.replaced(path: paths[i].path))
        }
        for i in pids.indices {
            guard let old = pids[i].id, let id = Self.identity(pid: pids[i].pid), id != old else { continue }
            // Another process under a reused pid is not ours: stop watching it.
            guard id.startTime == old.startTime else { pids[i].id = nil; continue }
            pids[i].id = id
            out.append(.exec(pid: pids[i].pid))
        }
        return out
    }

    private static func identity(_ path: String) -> FileID? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    private static func identity(pid: Int32) -> FileID? {
        guard var id = identity("/proc/\(pid)/exe"), let stat = ProcStat.read(pid: pid) else { return nil }
        id.startTime = stat.startTime
        id.startStack = stat.startStack
        return id
    }
}
