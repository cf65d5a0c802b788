import Attach
@testable import Families
import Foundation
import Synchronization
import Testing
import TraceEvents
import Tracing

#if canImport(Glibc)
import Glibc
#endif

/// The system family's kernel side on this kernel, as root.
@Suite struct SystemBPFTests {
    /// True when BPF can be loaded here; a printed skip elsewhere, a failure in CI.
    static func canLoad(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if getuid() == 0 { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("required in CI: root (BPF)", sourceLocation: sourceLocation)
        } else {
            print("SKIP: needs root (BPF)")
        }
        return false
    }

    /// `__NR_name number` of the kernel's UAPI header as installed (linux-libc-dev):
    /// an independent reference for the names read from the running kernel.
    static func uapiNumbers() throws -> [String: UInt32] {
        let text = try String(contentsOfFile: "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", encoding: .utf8)
        var out: [String: UInt32] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 3, f[0] == "#define", f[1].hasPrefix("__NR_"), let n = UInt32(f[2]) else { continue }
            out[String(f[1].dropFirst(5))] = n
        }
        return out
    }

    /// BPF root: the names come from the running kernel and agree with the
    /// UAPI header's numbers for every syscall both know.
    @Test func syscallNamesFromTheKernelMatchTheUAPIHeader() throws {
        guard Self.canLoad() else { return }
        let names = try SyscallNames.read()
        let uapi = try Self.uapiNumbers()
        #expect(names.byNumber.count > 300, "\(names.byNumber.count) names")
        #expect(uapi.count > 300)
        var compared = 0
        for (name, nr) in uapi {
            guard let kernel = names.byNumber[nr] else { continue }
            compared += 1
            // The kernel names a few entry points after their implementation
            // (newfstat for fstat, sendfile64 for sendfile, umount for umount2); the header after the ABI.
            if kernel != name && kernel != "new" + name && !kernel.hasPrefix(name) && !name.hasPrefix(kernel) {
                Issue.record("nr \(nr): kernel \(kernel), header \(name)")
            }
        }
        #expect(compared > 300)
        for name in ["getppid", "read", "connect", "openat", "exit_group", "accept4"] {
            #expect(names.name(try #require(uapi[name])) == name)
        }
        #expect(names.name(9999) == "syscall_9999")
    }

    /// BPF root: through `AttachedProbes` (the one attach path), --syscalls on
    /// this test process counts exactly the getppid calls one thread makes.
    @Test func syscallCountsOfThisProcess() throws {
        guard Self.canLoad() else { return }
        let plan = try SystemFamily.plan(.process(getpid()), spec: "syscalls", options: TraceOptions())
        #expect(plan.request.kernelPrograms.count == 2 && plan.request.unusedPrograms.count == 5)
        let probes = try TestProbes(plan)
        defer { probes.detach() }
        #expect(probes.probeCount == 2)
        let nr = try #require(try Self.uapiNumbers()["getppid"])
        let before = try SystemStats.read([probes.probes]).syscalls.first { $0.nr == nr }?.count ?? 0
        for _ in 0..<777 { _ = getppid() }
        let after = try #require(try SystemStats.read([probes.probes]).syscalls.first { $0.nr == nr && $0.pid == UInt32(getpid()) })
        // Other suites' threads run in this process too, but none calls getppid (glibc's makes the syscall every time).
        #expect(after.count - before == 777)
        #expect(after.buckets.reduce(0, +) == after.count, "every call in one bucket")
    }

    /// A TCP socket of this process bound to 127.0.0.1 on a free port; returns (fd, port).
    static func boundSocket() throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        try #require(withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } } == 0)
        try #require(withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } } == 0)
        return (fd, UInt16(bigEndian: a.sin_port))
    }

    /// BPF root: --tcp alone (the syscall programs not even loaded): a refused
    /// connect of this process becomes one record on the shared ring buffer,
    /// decoded into a failed `tcp connect` span, and one error in the map.
    @Test func refusedConnectOfThisProcess() throws {
        guard Self.canLoad() else { return }
        let plan = try SystemFamily.plan(.process(getpid()), spec: "tcp", options: TraceOptions())
        #expect(plan.request.kernelPrograms.count == 5 && plan.request.unusedPrograms.count == 2)
        let probes = try TestProbes(plan)
        defer { probes.detach() }
        let events = Mutex<[TCPConnectEvent]>([])
        let reader = try probes.reader { bytes in
            if let e = bytes.withUnsafeBytes({ TCPConnectEvent(bytes: $0) }) { events.withLock { $0.append(e) } }
        }
        let (closed, port) = try Self.boundSocket()   // bound, not listening: a SYN gets a RST
        defer { close(closed) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = port.bigEndian
        to.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let rc = withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let e = errno
        #expect(rc == -1 && e == ECONNREFUSED)
        reader.consume()
        reader.stop()
        // Other suites in this process may connect too: ours is the one to this port.
        let mine = events.withLock { $0 }.filter { $0.peerPort == port }
        #expect(mine.count == 1, "\(mine)")
        let c = try #require(mine.first)
        #expect(c.pid == UInt32(getpid()) && c.error == ECONNREFUSED && c.peerAddress == "127.0.0.1")
        #expect(c.endBootNanos >= c.startBootNanos && c.endBootNanos - c.startBootNanos < 5_000_000_000)
        let stats = try SystemStats.read([probes.probes])
        #expect((stats.connectErrors[UInt32(getpid())]?[ECONNREFUSED] ?? 0) >= 1)
        #expect(stats.syscalls.isEmpty, "--tcp alone counts no syscalls")
    }

    @Test func planRefusesWhatItCannotTrace() throws {
        #expect(throws: FamilyError.self) { try SystemFamily.plan(.host, spec: "syscalls", options: TraceOptions()) }
        #expect(throws: FamilyError.self) { try SystemFamily.plan(.process(getpid()), spec: nil, options: TraceOptions()) }
    }

    @Test func connectEventDecodesAndBecomesASpan() throws {
        var raw = ut_tcp_connect_event()
        raw.h.kind = UInt32(UT_EVENT_TCP_CONNECT.rawValue)
        raw.h.tgid = 42
        raw.h.start_ns = 1_000
        raw.h.end_ns = 51_000
        raw.error = ECONNREFUSED
        raw.family = 2
        raw.dport = 8080
        withUnsafeMutableBytes(of: &raw.daddr) { $0.copyBytes(from: [10, 0, 0, 7]) }
        let e = try #require(withUnsafeBytes(of: raw) { TCPConnectEvent(bytes: $0) })
        #expect(e.peerAddress == "10.0.0.7" && e.peerPort == 8080 && e.pid == 42 && e.failed)
        let span = TCPConnectSpans(clock: BootClock(), resource: { _ in Resource(attributes: []) }).span(for: e)
        #expect(span.name == "tcp connect" && span.kind == .client)
        #expect(span.durationNanos == 50_000)
        #expect(span.attribute("error.type") == .string("ECONNREFUSED"))
        #expect(span.attribute("network.peer.port") == .int(8080))
        if case .error = span.status {} else { Issue.record("status \(span.status)") }
        // Shorter than the struct: not a record.
        #expect(withUnsafeBytes(of: raw) { TCPConnectEvent(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<40])) } == nil)
    }

    @Test func ipv6AddressesAreWrittenTheRFC5952Way() {
        var b = [UInt8](repeating: 0, count: 16)
        b[15] = 1
        #expect(TCPConnectEvent.address(b, v6: true) == "::1")
        b = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]
        #expect(TCPConnectEvent.address(b, v6: true) == "2001:db8::10")
        b = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]
        #expect(TCPConnectEvent.address(b, v6: true) == "::ffff:127.0.0.1")
    }
}
