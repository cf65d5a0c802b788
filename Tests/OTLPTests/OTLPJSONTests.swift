import Foundation
import Testing
import Tracing
@testable import OTLP

@Suite struct OTLPJSONTests {
    func isHex(_ s: Any?, count: Int) -> Bool {
        guard let s = s as? String, s.count == count else { return false }
        return s.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    @Test func fileHasOneValidOTLPJSONRequestPerLine() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let exporter = try OTLPJSONFileExporter(path: path)
        try await exporter.export([Fixtures.server(1), Fixtures.mysql()])
        try await exporter.export([Fixtures.server(2)])
        await exporter.shutdown()
        await #expect(throws: ExportError.shutDown) { try await exporter.export([Fixtures.server(3)]) }

        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        for line in lines {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(obj["resourceSpans"] is [Any])
        }
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        let rs = try #require(first["resourceSpans"] as? [[String: Any]])
        #expect(rs.count == 2)
        let resource = try #require(rs[0]["resource"] as? [String: Any])
        let rattrs = try #require(resource["attributes"] as? [[String: Any]])
        #expect((rattrs[1]["value"] as? [String: Any])?["intValue"] as? String == "1234")
        let scopeSpans = try #require(rs[0]["scopeSpans"] as? [[String: Any]])
        #expect((scopeSpans[0]["scope"] as? [String: Any])?["name"] as? String == "uprobe-trace")
        let span = try #require((scopeSpans[0]["spans"] as? [[String: Any]])?.first)
        #expect(span["traceId"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(isHex(span["traceId"], count: 32))
        #expect(isHex(span["spanId"], count: 16))
        #expect(span["parentSpanId"] as? String == "1122334455667788")
        #expect(span["traceState"] as? String == "rojo=00f067aa0ba902b7")
        #expect(span["kind"] as? Int == 2)
        #expect(!(span["kind"] is String))
        #expect(span["startTimeUnixNano"] as? String == "1700000000123456789")
        #expect(span["endTimeUnixNano"] as? String == "1700000000135802467")
        let attrs = try #require(span["attributes"] as? [[String: Any]])
        func value(_ key: String) -> [String: Any]? {
            attrs.first { $0["key"] as? String == key }?["value"] as? [String: Any]
        }
        #expect(value("url.query")?["stringValue"] as? String == "id=3")
        #expect(value("http.response.status_code")?["intValue"] as? String == "200")
        #expect(value("test.ratio")?["doubleValue"] as? Double == 0.5)
        #expect(value("test.flag")?["boolValue"] as? Bool == true)

        let errorSpan = try #require(((rs[1]["scopeSpans"] as? [[String: Any]])?[0]["spans"] as? [[String: Any]])?.first)
        #expect(errorSpan["parentSpanId"] == nil)
        #expect(errorSpan["kind"] as? Int == 3)
        let status = try #require(errorSpan["status"] as? [String: Any])
        #expect(status["code"] as? Int == 2)
        #expect(status["message"] as? String == "Table 'shop.t' doesn't exist")
        try validateWithPython(path: path)
    }

    /// An independent structural check of every line, in Python.
    func validateWithPython(path: String) throws {
        guard let python = External.require(External.which("python3"), "python3") else { return }
        let script = #"""
        import json, re, sys
        hexid = {"traceId": 32, "spanId": 16, "parentSpanId": 16}
        def check_value(v):
            assert len(v) == 1, v
            (k, x), = v.items()
            if k == "intValue": assert isinstance(x, str) and re.fullmatch(r"-?\d+", x), v
            elif k == "stringValue": assert isinstance(x, str)
            elif k == "boolValue": assert isinstance(x, bool)
            elif k == "doubleValue": assert isinstance(x, (int, float)) and not isinstance(x, bool)
            else: raise AssertionError(v)
        def check_attrs(attrs):
            for a in attrs:
                assert set(a) == {"key", "value"}, a
                check_value(a["value"])
        n = 0
        for line in open(sys.argv[1]):
            req = json.loads(line)
            assert set(req) == {"resourceSpans"}
            for rs in req["resourceSpans"]:
                assert set(rs) <= {"resource", "scopeSpans", "schemaUrl"}, rs.keys()
                check_attrs(rs["resource"]["attributes"])
                for ss in rs["scopeSpans"]:
                    assert ss["scope"]["name"] == "uprobe-trace"
                    for s in ss["spans"]:
                        n += 1
                        for k, size in hexid.items():
                            if k in s: assert re.fullmatch("[0-9a-f]{%d}" % size, s[k]), (k, s[k])
                        assert "traceId" in s and "spanId" in s
                        assert isinstance(s["kind"], int) and not isinstance(s["kind"], bool)
                        for k in ("startTimeUnixNano", "endTimeUnixNano"):
                            assert isinstance(s[k], str) and s[k].isdigit(), s[k]
                        assert int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"])
                        check_attrs(s.get("attributes", []))
                        st = s.get("status", {})
                        assert set(st) <= {"code", "message"} and isinstance(st.get("code", 0), int)
                        for k in s:
                            assert re.fullmatch("[a-z][A-Za-z]*", k), k
        print(n)
        """#
        let (status, out, err) = try External.run([python, "-c", script, path])
        #expect(status == 0, "python validation: \(err)")
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "3")
    }

    @Test func escapesStringsAndNonFiniteDoubles() throws {
        var s = Fixtures.server()
        s.name = "quote \" backslash \\ newline \n tab \t nul \u{0} é"
        s.attributes = [Attribute("nan", .double(.nan)), Attribute("inf", .double(-.infinity)),
                        Attribute("big", .double(1e300)), .int("neg", -5)]
        let line = OTLPJSON.encode(.init(spans: [s]))
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let span = try #require(((((obj["resourceSpans"] as? [[String: Any]])?[0]["scopeSpans"]) as? [[String: Any]])?[0]["spans"] as? [[String: Any]])?[0])
        #expect(span["name"] as? String == s.name)
        #expect(line.contains(#""doubleValue":"NaN""#))
        #expect(line.contains(#""doubleValue":"-Infinity""#))
        #expect(line.contains(#""intValue":"-5""#))
        #expect(!line.contains("\n"))
    }
}
