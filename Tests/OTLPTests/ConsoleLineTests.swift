import Foundation
import Testing
import Tracing
@testable import OTLP

@Suite struct ConsoleLineTests {
    @Test func httpServerSpan() {
        // 1700000000 s = 2023-11-14 22:13:20 UTC.
        #expect(ConsoleLine.format(Fixtures.server(), utcOffset: 0)
            == "22:13:20.123456 SERVER GET /api/users?id=3 → 200  12.346 ms  pid 1234  trace 4bf92f35…")
    }

    @Test func localOffsetApplies() {
        #expect(ConsoleLine.format(Fixtures.server(), utcOffset: 3600).hasPrefix("23:13:20.123456 "))
        #expect(ConsoleLine.format(Fixtures.server(), utcOffset: 7200).hasPrefix("00:13:20.123456 "))
        #expect(ConsoleLine.format(Fixtures.server(), utcOffset: -23 * 3600).hasPrefix("23:13:20.123456 "))
    }

    @Test func sqlSpanShowsStatementAndError() {
        #expect(ConsoleLine.format(Fixtures.mysql(), utcOffset: 0)
            == "22:13:20.123457 CLIENT SELECT * FROM t WHERE id = ?  2.500 ms  pid 99  trace 00000000…  ERROR Table 'shop.t' doesn't exist")
        var multiline = Fixtures.mysql()
        multiline.attributes = [.string("db.query.text", "SELECT a\n  FROM t\tWHERE x = ?")]
        #expect(ConsoleLine.format(multiline, utcOffset: 0).contains("CLIENT SELECT a   FROM t WHERE x = ?  2.500 ms"))
    }

    @Test func otherSpanUsesName() {
        var plain = Fixtures.mysql()
        plain.attributes = []
        #expect(ConsoleLine.format(plain, utcOffset: 0).hasPrefix("22:13:20.123457 CLIENT SELECT  2.500 ms"))
    }

    @Test func noQueryNoStatusNoPid() {
        var s = Fixtures.server()
        s.attributes = [.string("http.request.method", "POST"), .string("url.path", "/x\n")]
        s.resource = Resource(attributes: [])
        #expect(ConsoleLine.format(s, utcOffset: 0) == "22:13:20.123456 SERVER POST /x\\x0a  12.346 ms  trace 4bf92f35…")
    }

    @Test func exporterWritesOneLinePerSpan() async throws {
        let lines = LinesBox()
        let exporter = ConsoleExporter(utcOffset: 0) { lines.append($0) }
        try await exporter.export([Fixtures.server(), Fixtures.mysql()])
        #expect(lines.all.count == 2)
        #expect(lines.all[1].contains("CLIENT SELECT"))
    }
}

final class LinesBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.withLock { lines.append(s) } }
    var all: [String] { lock.withLock { lines } }
}
