import TraceEvents
import Tracing

/// Turns the records of every probe family — read from the one ring buffer
/// they share, in the order the kernel reserved them — into spans: each record
/// goes to its family's decoder (the family is the high byte of its kind), and
/// a decoder that asks for it gets the span another family's server is serving
/// on the record's thread (a MySQL query made for a TLS request becomes its child).
public struct SpanAssembler: Sendable {
    /// Indexed by `enum ut_probe_family`.
    private var decoders: [(any FamilyDecoder)?]
    /// Records that matched no decoder (unknown kind, cut short).
    public private(set) var undecodable = 0

    public init(clock: BootClock, sampler: Sampler = .always, options: TraceOptions = TraceOptions(),
                resource: @escaping @Sendable (UInt32) -> Resource) {
        let setup = DecoderSetup(clock: clock, sampler: sampler, options: options, resource: resource)
        var decoders = [(any FamilyDecoder)?](repeating: nil, count: Int(UT_FAMILY_COUNT.rawValue))
        for family in ProbeFamilies.all { decoders[Int(family.id.rawValue)] = family.makeDecoder(setup) }
        self.decoders = decoders
    }

    /// Feeds one ring-buffer record; returns the spans it completed (sampled or not).
    public mutating func consume(_ record: UnsafeRawBufferPointer) -> [Span] {
        guard record.count >= MemoryLayout<ut_event_header>.size else {
            undecodable += 1
            return []
        }
        let header = record.loadUnaligned(as: ut_event_header.self)
        let family = Int(ut_event_family(header.kind))
        // No binding of the decoder itself: a second reference would make the
        // mutation below copy its tables.
        guard family < decoders.count, let wantsParent = decoders[family]?.wantsThreadParent else {
            undecodable += 1
            return []
        }
        let parent = wantsParent ? serverSpan(pid: header.tgid, tid: header.tid) : nil
        guard let spans = decoders[family]?.consume(record, kind: header.kind, threadParent: parent) else {
            undecodable += 1
            return []
        }
        return spans
    }

    /// Ends what can be ended without more data (TLS responses without a length); at shutdown.
    public mutating func flush() -> [Span] {
        var spans: [Span] = []
        for i in decoders.indices { spans += decoders[i]?.flush() ?? [] }
        return spans
    }

    private func serverSpan(pid: UInt32, tid: UInt32) -> SpanContext? {
        for case let d? in decoders { if let c = d.serverSpan(pid: pid, tid: tid) { return c } }
        return nil
    }
}
