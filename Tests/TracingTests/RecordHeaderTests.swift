import Testing
import TraceEvents
import Tracing

@Suite struct RecordHeaderTests {
    @Test func decodesEveryHeaderField() {
        let h = ut_event_header(kind: 7, tgid: 10, tid: 11, flags: 4, goid: 12, start_ns: 100, end_ns: 250)
        #expect(RecordHeader(h) == RecordHeader(pid: 10, tid: 11, flags: 4, goid: 12, startBootNanos: 100, endBootNanos: 250))
    }
}
