import Testing
import TraceEvents

/// Swift sees the structs of trace_events.h with the sizes and offsets the
/// BPF C (and the header's _Static_asserts) use.
@Suite struct EventLayoutTests {
    @Test func sizesMatchHeader() {
        #expect(MemoryLayout<ut_event_header>.size == Int(UT_EVENT_HEADER_SIZE))
        #expect(MemoryLayout<ut_event_header>.size == Int(UT_SIZEOF_EVENT_HEADER.rawValue))
        #expect(MemoryLayout<ut_go_http_event>.size == Int(UT_SIZEOF_GO_HTTP_EVENT.rawValue))
        #expect(MemoryLayout<ut_go_http_event>.size == 448)
        #expect(MemoryLayout<ut_go_request_ref>.size == Int(UT_SIZEOF_GO_REQUEST_REF.rawValue))
        #expect(MemoryLayout<ut_go_head_event>.size == Int(UT_SIZEOF_GO_HEAD_EVENT.rawValue))
        #expect(MemoryLayout<ut_go_offsets>.size == Int(UT_SIZEOF_GO_OFFSETS.rawValue))
        #expect(MemoryLayout<ut_config>.size == Int(UT_SIZEOF_CONFIG.rawValue))
        #expect(MemoryLayout<ut_pg_send_event>.size == Int(UT_SIZEOF_PG_SEND_EVENT.rawValue))
        #expect(MemoryLayout<ut_pg_end_event>.size == Int(UT_SIZEOF_PG_END_EVENT.rawValue))
        #expect(MemoryLayout<ut_pg_offsets>.size == Int(UT_SIZEOF_PG_OFFSETS.rawValue))
        #expect(MemoryLayout<ut_pg_send_event>.offset(of: \.name) == 72)
        #expect(MemoryLayout<ut_pg_end_event>.offset(of: \.sqlstate) == 56)
        #expect(MemoryLayout<ut_go_offsets>.size == 34 * 8)
        #expect(MemoryLayout<ut_go_h2_trace>.size == Int(UT_SIZEOF_GO_H2_TRACE.rawValue))
        #expect(MemoryLayout<ut_go_h2_trace>.offset(of: \.traceparent) == 8)
        #expect(MemoryLayout<ut_go_h2_trace>.offset(of: \.tracestate) == 8 + Int(UT_H2_TRACEPARENT_MAX))
        #expect(MemoryLayout<ut_tcp_connect_event>.size == Int(UT_SIZEOF_TCP_CONNECT_EVENT.rawValue))
        #expect(MemoryLayout<ut_syscall_stats>.size == Int(UT_SIZEOF_SYSCALL_STATS.rawValue))
        #expect(MemoryLayout<ut_tcp_stats>.size == Int(UT_SIZEOF_TCP_STATS.rawValue))
        #expect(MemoryLayout<ut_syscall_key>.size == 8 && MemoryLayout<ut_tcp_error_key>.size == 8)
        #expect(MemoryLayout<ut_go_grpc_event>.size == Int(UT_SIZEOF_GO_GRPC_EVENT.rawValue))
        #expect(MemoryLayout<ut_go_grpc_event>.size == 352)
        #expect(MemoryLayout<ut_go_grpc_offsets>.size == Int(UT_SIZEOF_GO_GRPC_OFFSETS.rawValue))
    }

    @Test func systemRecordFieldOffsets() {
        typealias E = ut_tcp_connect_event
        #expect(MemoryLayout<E>.offset(of: \.error) == 40)
        #expect(MemoryLayout<E>.offset(of: \.dport) == 46)
        #expect(MemoryLayout<E>.offset(of: \.daddr) == 56)
        #expect(MemoryLayout<E>.offset(of: \.saddr) == 72)
        #expect(MemoryLayout<ut_syscall_stats>.offset(of: \.buckets) == 16)
        #expect(UT_FAMILY_SYSTEM.rawValue < UT_FAMILY_COUNT.rawValue)
        #expect(ut_event_family(UInt32(UT_EVENT_TCP_CONNECT.rawValue)) == UT_FAMILY_SYSTEM.rawValue)
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
        #expect(MemoryLayout<E>.offset(of: \.parent) == 40)
        #expect(MemoryLayout<E>.offset(of: \.grandparent) == 64)
        #expect(MemoryLayout<ut_go_request_ref>.offset(of: \.goid) == 8)
        #expect(MemoryLayout<ut_go_request_ref>.offset(of: \.start_ns) == 16)
        #expect(MemoryLayout<E>.offset(of: \.status) == 88)
        #expect(MemoryLayout<E>.offset(of: \.content_length) == 96)
        #expect(MemoryLayout<E>.offset(of: \.method_len) == 104)
        #expect(MemoryLayout<E>.offset(of: \.host_len) == 110)
        #expect(MemoryLayout<E>.offset(of: \.method) == 112)
        #expect(MemoryLayout<E>.offset(of: \.path) == 112 + Int(UT_METHOD_MAX))
        #expect(MemoryLayout<E>.offset(of: \.query) == 112 + Int(UT_METHOD_MAX + UT_PATH_MAX))
        #expect(MemoryLayout<E>.offset(of: \.host) == 112 + Int(UT_METHOD_MAX + UT_PATH_MAX + UT_QUERY_MAX))
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
        #expect(UT_FLAG_HTTP2.rawValue & (UT_FLAG_PANIC.rawValue | UT_FLAG_ERROR.rawValue | UT_FLAG_READ_FAILED.rawValue) == 0)
    }
}
