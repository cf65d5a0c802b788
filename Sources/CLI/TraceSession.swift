import Attach
import Families
import Synchronization
import TraceEvents
import Tracing

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

    func consume(_ bytes: [UInt8]) {
        received.count(record: bytes)
        emit(bytes.withUnsafeBytes { record in assembler.withLock { $0.consume(record) } })
    }

    func flush() { emit(assembler.withLock { $0.flush() }) }
}
