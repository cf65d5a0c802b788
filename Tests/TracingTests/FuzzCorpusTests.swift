import Foundation
import Testing
@testable import Tracing

/// Replays the fuzz seeds of testdata/fuzz/NAME and any input a harness once
/// crashed on (testdata/fuzz/NAME-regressions, kept by Fuzz/run.sh), checking
/// the harness's invariants in brief.
@Suite struct FuzzCorpusTests {
    static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("testdata/fuzz")

    /// The seeds (at least one) and the regressions (often none) of a harness.
    static func inputs(_ name: String) throws -> [(name: String, bytes: [UInt8])] {
        var all: [(String, [UInt8])] = []
        for dir in [name, name + "-regressions"] {
            let url = fuzz.appendingPathComponent(dir)
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { continue }
            for f in files.sorted() { all.append((dir + "/" + f, [UInt8](try Data(contentsOf: url.appendingPathComponent(f))))) }
        }
        #expect(all.contains { !$0.0.contains("-regressions/") }, "no seeds in testdata/fuzz/\(name)")
        return all
    }

    @Test func httpInputs() throws {
        for (name, bytes) in try Self.inputs("http") {
            var whole = HTTPHeadParser()
            let events = whole.feed(bytes)
            var split = HTTPHeadParser()
            var cut = [HTTPHeadParser.Event]()
            for b in bytes { cut += split.feed([b]) }
            let heads = events.compactMap { if case .head(let h) = $0 { return h } else { return nil } }
            #expect(heads.count == whole.headCount && (!whole.isNotHTTP || heads.isEmpty), "\(name)")
            #expect(heads.allSatisfy { Set($0.headers.keys).isSubset(of: HTTPHead.keptHeaders) }, "\(name)")
            #expect(Array(cut.prefix(events.count)) == events, "\(name): fed byte by byte")
        }
    }

    @Test func sqlInputs() throws {
        for (name, bytes) in try Self.inputs("sql") {
            let sanitized = SQLStatement(bytes: bytes).sanitized
            let pg = SQLStatement(bytes: bytes, dialect: .postgresql).sanitized
            guard !name.contains("-regressions/") else { continue } // replayed for traps only
            let literals = SQLLexer(Array(sanitized.utf8)).filter { $0.kind == .string || $0.kind == .number }
            #expect(literals.isEmpty, "\(name): \(sanitized)")
            let pgLiterals = SQLLexer(Array(pg.utf8), dialect: .postgresql).filter { $0.kind == .string || $0.kind == .number }
            #expect(pgLiterals.isEmpty, "\(name) (postgresql): \(pg)")
        }
    }

    @Test func traceparentInputs() throws {
        var accepted = 0
        for (name, bytes) in try Self.inputs("traceparent") {
            let value = String(decoding: bytes, as: UTF8.self)
            guard let t = TraceParent(value) else { continue }
            accepted += 1
            #expect(t.traceID != TraceID(high: 0, low: 0) && t.parentSpanID != SpanID(0), "\(name)")
            if value.hasPrefix("00-") {
                let flags = (t.flags < 16 ? "0" : "") + String(t.flags, radix: 16)
                #expect("00-\(t.traceID.hex)-\(t.parentSpanID.hex)-\(flags)" == value, "\(name)")
            }
        }
        #expect(accepted > 0)
    }

    @Test func headWindowInputs() throws {
        var found = 0
        for (name, bytes) in try Self.inputs("headwindow") {
            let alone = RequestHeadWindow.traceHeaders(endingAt: bytes)
            let earlier = Array("GET /earlier HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b9-01\r\n\r\n".utf8)
            if bytes.starts(with: Array("GET ".utf8)) || bytes.starts(with: Array("POST ".utf8)) {
                let pipelined = RequestHeadWindow.traceHeaders(endingAt: earlier + bytes)
                #expect(pipelined.traceparent == alone.traceparent && pipelined.tracestate == alone.tracestate, "\(name)")
            }
            if let t = alone.traceparent {
                found += 1
                #expect(String(decoding: bytes, as: UTF8.self).contains(t), "\(name)")
            }
        }
        #expect(found >= 3, "the seeds carry a traceparent in the current head")
    }
}
