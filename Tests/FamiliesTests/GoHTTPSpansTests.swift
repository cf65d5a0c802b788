@testable import Families
import Glibc
import Testing
import TraceEvents
@testable import Tracing

@Suite struct GoHTTPSpansTests {
    let builder = GoHTTPSpans(clock: BootClock(), resource: { pid in
        TracedProcess(pid: pid, executablePath: "/srv/app/server", goVersion: "go1.19.8").resource(environment: [:])
    })

    func event(_ role: GoHTTPEvent.Role, status: Int64, flags: UInt32 = 0, path: String = "/api/users",
               query: String = "id=3", host: String = "example.com:8080") -> GoHTTPEvent {
        GoHTTPEvent(role: role, pid: 1234, tid: 7, goid: 42, flags: flags, startBootNanos: 1_000_000,
                    endBootNanos: 13_345_000, status: status, method: "GET", path: path, query: query, host: host)
    }

    @Test func serverSpanAttributes() {
        let s = builder.span(for: event(.server, status: 0))
        #expect(s.kind == .server)
        #expect(s.name == "GET /api/users")
        #expect(s.attribute("http.request.method") == .string("GET"))
        #expect(s.attribute("url.path") == .string("/api/users"))
        #expect(s.attribute("url.query") == .string("id=3"))
        #expect(s.attribute("http.response.status_code") == .int(200), "status 0 is net/http's implicit 200")
        #expect(s.attribute("server.address") == .string("example.com"))
        #expect(s.attribute("server.port") == .int(8080))
        #expect(s.status == .unset)
        #expect(s.durationNanos == 12_345_000)
        #expect(s.resource.attribute("process.pid") == .int(1234))
        #expect(s.resource.attribute("service.name") == .string("server"))
        #expect(s.resource.attribute("process.runtime.version") == .string("go1.19.8"))
        #expect(s.resource.attribute("telemetry.sdk.name") == .string("uprobe-trace"))
    }

    @Test func serverErrorsAndPanics() {
        #expect(builder.span(for: event(.server, status: 404)).status == .unset, "4xx is not a server error")
        let e500 = builder.span(for: event(.server, status: 503))
        #expect(e500.status != .unset)
        #expect(e500.attribute("error.type") == .string("503"))
        let panic = builder.span(for: event(.server, status: 0, flags: UInt32(UT_FLAG_PANIC.rawValue)))
        #expect(panic.attribute("http.response.status_code") == .int(500))
        #expect(panic.attribute("error.type") == .string("panic"))
        #expect(panic.status != .unset)
    }

    @Test func clientStatuses() {
        let ok = builder.span(for: event(.client, status: 200))
        #expect(ok.kind == .client && ok.status == .unset && ok.name == "GET")
        let notFound = builder.span(for: event(.client, status: 404))
        #expect(notFound.status != .unset && notFound.attribute("error.type") == .string("404"))
        let failed = builder.span(for: event(.client, status: 0, flags: UInt32(UT_FLAG_ERROR.rawValue)))
        #expect(failed.status != .unset && failed.attribute("http.response.status_code") == nil)
    }

    @Test func idsAreRandomAndNonZero() {
        var seen = Set<TraceID>()
        for _ in 0..<1000 { seen.insert(.random()) }
        #expect(seen.count == 1000)
        #expect(TraceID.random().hex.count == 32 && SpanID.random().hex.count == 16)
    }

    @Test func hostPortSplitting() {
        #expect(GoHTTPSpans.splitHostPort("a.b:80") == ("a.b", 80))
        #expect(GoHTTPSpans.splitHostPort("[::1]:9000") == ("::1", 9000))
        #expect(GoHTTPSpans.splitHostPort("plain") == ("plain", nil))
        #expect(GoHTTPSpans.splitHostPort("::1") == ("::1", nil))
    }

    /// The conversion agrees with the clocks themselves to well under the 200 µs budget.
    @Test func bootClockMatchesRealtime() {
        let c = BootClock()
        let boot = BootClock.bootNanos()
        let wall = UInt64(BootClock.now(CLOCK_REALTIME))
        let converted = c.unixNanos(fromBoot: boot)
        let diff = converted > wall ? converted - wall : wall - converted
        #expect(diff < 50_000, "diff \(diff) ns")
    }

    /// Decoding a raw record laid out as the BPF side writes it.
    @Test func decodesRawEvent() {
        var raw = ut_go_http_event()
        raw.h.kind = UInt32(UT_EVENT_GO_HTTP_SERVER.rawValue)
        raw.h.tgid = 99
        raw.h.goid = 5
        raw.h.start_ns = 10
        raw.h.end_ns = 20
        raw.status = 201
        raw.method_len = 4
        raw.path_len = 300  // longer than the buffer: truncated
        withUnsafeMutableBytes(of: &raw.method) { $0.copyBytes(from: Array("POST".utf8)) }
        withUnsafeMutableBytes(of: &raw.path) { $0.copyBytes(from: Array(repeating: UInt8(ascii: "a"), count: $0.count)) }
        let e = withUnsafeBytes(of: &raw) { GoHTTPEvent(bytes: $0) }
        #expect(e?.role == .server && e?.pid == 99 && e?.status == 201 && e?.method == "POST")
        #expect(e?.path.count == Int(UT_PATH_MAX) && e?.truncated == true)
        #expect(withUnsafeBytes(of: &raw) { GoHTTPEvent(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<10])) } == nil)
    }
}
