@testable import Families
import Attach
import Foundation
import Symbols
import Synchronization
import Testing
import TraceEvents

/// A private mariadbd, the MySQLdb client script and event decoding for the
/// root MySQL BPF tests.
enum MySQLTestSupport {
    static let dir = GoHTTPTestSupport.testdata.appendingPathComponent("mysql")
    static let python = "/usr/bin/python3"

    /// Whether the MySQL root test can run here: root, mariadbd, Debian's
    /// python3 with MySQLdb. If not, it records an issue under CI=true (the
    /// test fails) and prints why otherwise.
    static func canRun() -> Bool {
        var why: String?
        if geteuid() != 0 {
            why = "not root (BPF tests need CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)"
        } else if !["/usr/sbin/mariadbd", "/usr/bin/mariadbd"].contains(where: FileManager.default.isExecutableFile) {
            why = "mariadbd not installed (scripts/setup.sh installs mariadb-server)"
        } else if GoHTTPTestSupport.run(python, ["-c", "import MySQLdb"]).0 != 0 {
            why = "\(python) cannot import MySQLdb (scripts/setup.sh installs python3-mysqldb)"
        }
        guard let why else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("MySQL root BPF test cannot run: \(why)")
        } else {
            print("skipping MySQL root BPF test: \(why)")
        }
        return false
    }

    /// A mariadbd of our own (testdata/mysql/mariadb.sh) on a unix socket in a
    /// fresh temporary directory. Stopped by `stop()`, by deinit, and by the
    /// script's watchdog if this process dies first.
    final class MariaDB {
        let directory: String
        let socket: String
        private var stopped = false

        init() throws {
            var template = Array("/tmp/uprobe-trace-mariadb-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw GoHTTPTestSupport.FixtureError(message: "mkdtemp: errno \(errno)") }
            directory = String(cString: made)
            let (status, out) = GoHTTPTestSupport.run(
                "/bin/bash", [dir.appendingPathComponent("mariadb.sh").path, "start", directory, String(getpid())])
            guard status == 0, let last = out.split(separator: "\n").last, last.hasSuffix("/sock") else {
                _ = GoHTTPTestSupport.run("/bin/bash", [MySQLTestSupport.dir.appendingPathComponent("mariadb.sh").path, "stop", directory])
                throw GoHTTPTestSupport.FixtureError(message: "mariadb.sh start failed (\(status)): \(out)")
            }
            socket = String(last)
        }

        func stop() {
            guard !stopped else { return }
            stopped = true
            _ = GoHTTPTestSupport.run("/bin/bash", [dir.appendingPathComponent("mariadb.sh").path, "stop", directory])
            try? FileManager.default.removeItem(atPath: directory)
        }

        deinit { stop() }
    }

    /// One line of run_statements.py's output.
    struct Outcome: Decodable {
        let index: Int
        let statement: String
        let ok: Bool
        let error: String?
        let duration_ns: UInt64
        /// Sent with length (unsigned long)-1 through libmariadb directly.
        let nul_terminated: Bool?
    }

    /// run_statements.py started with `--wait`: connected, and waiting for a
    /// line on stdin before it runs the statements.
    final class Client {
        let process = Process()
        let pid: Int32
        private let stdin = Pipe()
        private let stdout = Pipe()

        init(socket: String) throws {
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [dir.appendingPathComponent("run_statements.py").path, "--socket", socket, "--wait"]
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = FileHandle.nullDevice
            try process.run()
            var line = Data()
            while true {
                let byte = stdout.fileHandleForReading.readData(ofLength: 1)
                if byte.isEmpty || byte.first == 10 { break }
                line.append(byte)
            }
            let text = String(decoding: line, as: UTF8.self)
            guard text.hasPrefix("ready "), let pid = Int32(text.dropFirst("ready ".count)) else {
                process.terminate()
                throw GoHTTPTestSupport.FixtureError(message: "run_statements.py printed \(text.debugDescription), not `ready PID`")
            }
            self.pid = pid
        }

        /// The client library the process maps and the file offset of its `mysql_real_query`.
        func mysqlRealQuery() throws -> (path: String, offset: UInt64) {
            let image = try ProcessImage(pid: pid)
            let object = try LibraryLocator.findMapped(["libmariadb.so*", "libmysqlclient.so*"], in: image)
            let elf = try image.openObject(object)
            let symbol = try #require(try elf.lookup("mysql_real_query").first { $0.isFunction && $0.isDefined })
            let offset = try #require(elf.fileOffset(of: symbol))
            return (object.path, offset)
        }

        /// Lets the script run its statements; returns one outcome per statement.
        func runStatements() throws -> [Outcome] {
            stdin.fileHandleForWriting.write(Data("go\n".utf8))
            let data = stdout.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let decoder = JSONDecoder()
            return try data.split(separator: 10).map { try decoder.decode(Outcome.self, from: Data($0)) }
        }

        deinit {
            if process.isRunning { process.terminate() }
        }
    }
}

/// A `struct ut_mysql_event` and the statement bytes that followed it.
struct MySQLRecord {
    var event: ut_mysql_event
    var statement: [UInt8]

    var text: String { String(decoding: statement, as: UTF8.self) }
    var durationNs: UInt64 { event.h.end_ns &- event.h.start_ns }
}

/// MySQL records received from the ring buffer.
final class MySQLSink: Sendable {
    private let records = Mutex<[MySQLRecord]>([])
    private let malformed = Mutex<[Int]>([])

    var handler: RingBufferReader.Handler {
        { [self] bytes in
            let size = MemoryLayout<ut_mysql_event>.size
            guard bytes.count >= size else {
                malformed.withLock { $0.append(bytes.count) }
                return
            }
            let e = bytes.withUnsafeBytes { $0.loadUnaligned(as: ut_mysql_event.self) }
            guard e.h.kind == UT_EVENT_MYSQL_QUERY.rawValue, bytes.count == size + Int(e.captured) else {
                malformed.withLock { $0.append(bytes.count) }
                return
            }
            records.withLock { $0.append(MySQLRecord(event: e, statement: Array(bytes[size...]))) }
        }
    }

    var all: [MySQLRecord] { records.withLock { $0 } }
    /// Sizes of records that were not a well-formed MySQL event.
    var malformedSizes: [Int] { malformed.withLock { $0 } }

    /// Waits until `count` records of process `pid` arrived or `seconds` passed.
    func wait(for count: Int, pid: Int32, seconds: Double = 5) -> [MySQLRecord] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if all.filter({ $0.event.h.tgid == UInt32(pid) }).count >= count { break }
            usleep(10_000)
        }
        return all
    }
}
