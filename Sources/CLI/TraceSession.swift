import Attach
import Families
import Symbols
import Synchronization
import TraceEvents
import Tracing
#if canImport(Glibc)
import Glibc
#endif

/// One `trace` run's kernel side and span pipeline: the ring buffer and lost
/// counters every family shares, the attached families, and the reader thread
/// that turns records into spans and hands them to `emit`.
final class TraceSession: Sendable {
    let shared: SharedMaps
    private let pipeline: SpanPipeline
    private let attachedList = Mutex<[AttachedProbes]>([])
    private let reader: RingBufferReader

    init(ringBufferBytes: UInt32, assembler: SpanAssembler, emit: @escaping @Sendable ([Span]) -> Void) throws {
        // One ring buffer for every family: events arrive in the kernel's order,
        // so spans of different families can be joined into one trace.
        shared = try SharedMaps(ringBufferBytes: ringBufferBytes)
        let pipeline = SpanPipeline(assembler: assembler, emit: emit)
        self.pipeline = pipeline
        reader = try RingBufferReader(shared: shared) { pipeline.consume($0) }
    }

    /// Records received per family.
    var received: FamilyCounts { pipeline.received }

    /// Loads `plan`'s object and attaches its sites; the first object of a
    /// family lends its cross-process maps to the later ones.
    func attach(_ plan: FamilyPlan) throws {
        let peer = attachedList.withLock { list in list.first { $0.name == plan.request.object.name } }
        let probes = try AttachedProbes(plan.request, shared: shared, sharingWith: peer)
        attachedList.withLock { $0.append(probes) }
        Log.write("uprobe-trace: attached \(probes.probeCount) probes to \(plan.summary)\n")
        for note in plan.notes { Log.note(note) }
    }

    var attached: [AttachedProbes] { attachedList.withLock { $0 } }

    /// Attaches again after `change`: the new file at an --exe path, or the new
    /// program of a --pid (whose stale probes go first). A failure is reported
    /// and the session goes on.
    func reattach(after change: ExecutableWatch.Change, planner: FamilyPlanner, resources: ResourceCache) {
        do {
            let target: TraceTarget
            switch change {
            case .replaced(let path):
                Log.write("uprobe-trace: \(path) was replaced on disk; processes running the old file stay traced, attaching to the new one\n")
                target = .executable(path)
            case .exec(let pid):
                let program = (try? ProcessImage(pid: pid).mainExecutable) ?? nil
                Log.write("uprobe-trace: pid \(pid) exec'd \(program ?? "a program"); uprobes do not follow a pid into its new image, attaching again\n")
                target = .process(pid)
            }
            // Per-program families follow the program; library families stay on their library file.
            for plan in try planner.plans(for: target) where plan.request.object.name == GoHTTPFamily.name || planner.autoDetect {
                if let pid = plan.request.pid { detach(family: plan.request.object.name, pid: pid) }
                resources.update(plan)
                try attach(plan)
            }
        } catch {
            Log.note("\(error) (not traced; the tool keeps running)")
        }
    }

    /// Detaches and forgets the probes of `family` placed for process `pid`:
    /// after an exec they are stale (and with uprobe_multi links, which follow a
    /// pid into a new image of the same file, they would count requests twice).
    func detach(family: String, pid: Int32) {
        let stale = attachedList.withLock { list in
            let (gone, kept) = (list.filter { $0.name == family && $0.request.pid == pid }, list.filter { !($0.name == family && $0.request.pid == pid) })
            list = kept
            return gone
        }
        for p in stale { p.detach() }
    }
    var probeCount: Int { attached.reduce(0) { $0 + $1.probeCount } }

    func startReading() { reader.start() }

    /// Stops the reader after it drained what the kernel produced, then ends
    /// what can be ended (responses without a length end at their last write).
    func stopReading() {
        reader.stop()
        pipeline.flush()
    }

    /// Events lost in the kernel, per attached family, from the shared counters.
    func lostByFamily() -> [(family: String, lost: UInt64)] {
        let lost = (try? shared.lostEvents()) ?? []
        let names = Set(attached.map(\.name))
        return (0..<Int(UT_FAMILY_COUNT.rawValue)).compactMap { i in
            let name = familyName(ut_probe_family(UInt32(i)))
            return names.contains(name) ? (name, i < lost.count ? lost[i] : 0) : nil
        }
    }

    /// Detaches every family and forgets it. Idempotent.
    func detachAll() {
        AttachedProbes.detachAll(attachedList.withLock { l in defer { l.removeAll() }; return l })
    }
}

/// Records → spans → `emit`, on the reader thread.
private final class SpanPipeline: Sendable {
    let received = FamilyCounts()
    private let assembler: Mutex<SpanAssembler>
    private let emit: @Sendable ([Span]) -> Void

    init(assembler: SpanAssembler, emit: @escaping @Sendable ([Span]) -> Void) {
        self.assembler = Mutex(assembler)
        self.emit = emit
    }

    /// This process: its own records are dropped. With `--ssl` on the host's
    /// libssl and an `https://` collector, the tool's exports pass through the
    /// probed SSL_write; spans of them would be exported again, without end.
    private let ownPID = UInt32(getpid())

    func consume(_ bytes: [UInt8]) {
        received.count(record: bytes)
        guard bytes.count < 8 || bytes.withUnsafeBytes({ $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }) != ownPID else { return }
        emit(bytes.withUnsafeBytes { record in assembler.withLock { $0.consume(record) } })
    }

    func flush() { emit(assembler.withLock { $0.flush() }) }
}
