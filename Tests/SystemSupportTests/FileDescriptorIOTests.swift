import Glibc
import Testing
import SystemSupport

@Suite struct FileDescriptorIOTests {
    @Test func writeAllThenReadToEnd() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        // More than a pipe holds at once would block; 4 KiB fits.
        let text = String(repeating: "0123456789abcdef", count: 256)
        #expect(FileDescriptorIO.writeAll(fds[1], text) == nil)
        close(fds[1])
        let got = try FileDescriptorIO.readToEnd(fds[0], chunkSize: 100).get()
        close(fds[0])
        #expect(String(decoding: got, as: UTF8.self) == text)
    }

    @Test func errorsCarryErrno() {
        #expect(FileDescriptorIO.writeAll(-1, "x") == Errno(EBADF))
        guard case .failure(let e) = FileDescriptorIO.readFile("/nonexistent/uprobe-trace") else {
            Issue.record("reading a missing file succeeded")
            return
        }
        #expect(e == Errno(ENOENT))
        #expect(e.text == "No such file or directory")
        #expect(e.description == "No such file or directory (errno 2)")
    }

    @Test func procfsFilesReadWhole() throws {
        // Size 0 in stat(2), yet not empty.
        let maps = try FileDescriptorIO.readFile("/proc/self/maps").get()
        #expect(maps.count > 100 && maps.last == 10)
    }

    @Test func waitTimesOutStopsAndSeesReadiness() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let start = monotonicSeconds()
        #expect(waitForDescriptor(fds[0], events: Int16(POLLIN), deadline: start + 0.05) == .timedOut)
        #expect(monotonicSeconds() - start >= 0.05, "not before the deadline")
        #expect(waitForDescriptor(fds[0], events: Int16(POLLIN), deadline: start + 60) { true } == .stopped)
        #expect(FileDescriptorIO.writeAll(fds[1], "x") == nil)
        #expect(waitForDescriptor(fds[0], events: Int16(POLLIN), deadline: monotonicSeconds() + 60) == .ready)
    }
}
