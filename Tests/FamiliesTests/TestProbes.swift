import Attach
@testable import Families
import TraceEvents

/// A family's probes attached exactly as `trace` attaches them: the shared ring
/// buffer and lost counters, then `AttachedProbes` (the one attach path).
final class TestProbes: Sendable {
    let shared: SharedMaps
    let probes: AttachedProbes

    init(_ request: ProbeRequest, ringBufferBytes: UInt32 = SharedMaps.defaultRingBufferBytes) throws {
        shared = try SharedMaps(ringBufferBytes: ringBufferBytes)
        probes = try AttachedProbes(request, shared: shared)
    }

    convenience init(_ plan: FamilyPlan) throws { try self.init(plan.request) }

    var object: BPFObject { probes.object }
    var probeCount: Int { probes.probeCount }

    /// A reader of the shared ring buffer; call `start()` on it.
    func reader(_ handler: @escaping RingBufferReader.Handler) throws -> RingBufferReader {
        try RingBufferReader(shared: shared, handler: handler)
    }

    /// Events lost in the kernel by this object's family.
    func lostEvents() throws -> UInt64 {
        let family = ProbeFamilies.all.first { $0.name == probes.name }!.id
        return try shared.lostEvents()[Int(family.rawValue)]
    }

    func detach() { probes.detach() }
}
