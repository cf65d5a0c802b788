import Testing
import TraceEvents

/// Swift sees the structs of trace_events.h with the sizes and offsets the
/// BPF C (and the header's _Static_asserts) use.
@Suite struct EventLayoutTests {
    @Test func sizesMatchHeader() {
        #expect(MemoryLayout<ut_event_header>.size == Int(UT_EVENT_HEADER_SIZE))
        #expect(MemoryLayout<ut_event_header>.size == Int(UT_SIZEOF_EVENT_HEADER.rawValue))
        #expect(MemoryLayout<ut_go_http_event>.size == Int(UT_SIZEOF_GO_HTTP_EVENT.rawValue))
        #expect(MemoryLayout<ut_go_http_event>.size == 400)
        #expect(MemoryLayout<ut_go_offsets>.size == Int(UT_SIZEOF_GO_OFFSETS.rawValue))
        #expect(MemoryLayout<ut_config>.size == Int(UT_SIZEOF_CONFIG.rawValue))
    }

    @Test func headerFieldOffsets() {
        #expect(MemoryLayout<ut_event_header>.offset(of: \.kind) == 0)
        #expect(MemoryLayout<ut_event_header>.offset(of: \.flags) == 12)
        #expect(MemoryLayout<ut_event_header>.offset(of: \.goid) == 16)
        #expect(MemoryLayout<ut_event_header>.offset(of: \.start_ns) == 24)
        #expect(MemoryLayout<ut_event_header>.offset(of: \.end_ns) == 32)
    }

    @Test func goHTTPEventFieldOffsets() {
        typealias E = ut_go_http_event
        #expect(MemoryLayout<E>.offset(of: \.h) == 0)
        #expect(MemoryLayout<E>.offset(of: \.status) == 40)
        #expect(MemoryLayout<E>.offset(of: \.content_length) == 48)
        #expect(MemoryLayout<E>.offset(of: \.method_len) == 56)
        #expect(MemoryLayout<E>.offset(of: \.host_len) == 62)
        #expect(MemoryLayout<E>.offset(of: \.method) == 64)
        #expect(MemoryLayout<E>.offset(of: \.path) == 64 + Int(UT_METHOD_MAX))
        #expect(MemoryLayout<E>.offset(of: \.query) == 64 + Int(UT_METHOD_MAX + UT_PATH_MAX))
        #expect(MemoryLayout<E>.offset(of: \.host) == 64 + Int(UT_METHOD_MAX + UT_PATH_MAX + UT_QUERY_MAX))
    }

    @Test func configFieldOffsets() {
        #expect(MemoryLayout<ut_config>.offset(of: \.target_tgid) == 0)
        #expect(MemoryLayout<ut_config>.offset(of: \.go) == 8)
        #expect(MemoryLayout<ut_go_offsets>.offset(of: \.g_goid) == 64)
    }

    @Test func enumValuesAreDistinct() {
        #expect(UT_EVENT_GO_HTTP_SERVER.rawValue != UT_EVENT_GO_HTTP_CLIENT.rawValue)
        #expect(UT_FAMILY_GO_HTTP.rawValue < UT_FAMILY_COUNT.rawValue)
        #expect(UT_FLAG_PANIC.rawValue & UT_FLAG_ERROR.rawValue == 0)
    }
}
