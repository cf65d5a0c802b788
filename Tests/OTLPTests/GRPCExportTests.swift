import Foundation
import Testing
import Tracing
@testable import OTLP

/// OTLP/gRPC against a real receiver: Python's grpcio serving the services that
/// the opentelemetry-proto package generates.
@Suite(.serialized) struct GRPCExportTests {
    final class Receiver {
        let process = Process()
        let dir: URL
        let port: String
        init(tls: TLSExportTests.Certificates? = nil, fail: [String] = []) throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-grpc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("harness/otlp_grpc_receiver.py").path
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script, dir.path] + (tls.map { ["--tls", $0.path("server.pem"), $0.path("server.key")] } ?? [])
                + (fail.isEmpty ? [] : ["--fail", fail.joined(separator: ",")])
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            var line = Data()
            while !line.contains(10), let chunk = try out.fileHandleForReading.read(upToCount: 1), !chunk.isEmpty { line += chunk }
            port = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "listening ", with: "")
        }
        func received() throws -> [Data] {
            try ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".pb") }.sorted()
                .map { try Data(contentsOf: dir.appendingPathComponent($0)) }
        }
        deinit {
            process.terminate()
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    func exporter(_ url: String, _ env: [String: String] = [:]) throws -> OTLPGRPCExporter {
        try OTLPGRPCExporter(configuration: try #require(try OTLPHTTPConfiguration.resolve(explicitEndpoint: url, environment: env, protocol: .grpc)))
    }

    @Test func theSameBytesAsOverHTTP() async throws {
        let spans = [Fixtures.server(), Fixtures.mysql()]
        let http = try TestHTTPReceiver()
        defer { http.stop() }
        let httpExporter = OTLPHTTPExporter(configuration: try #require(try OTLPHTTPConfiguration.resolve(explicitEndpoint: http.url, environment: [:])))
        try await httpExporter.export(spans)
        let grpc = try Receiver()
        let exporter = try exporter("http://127.0.0.1:\(grpc.port)", ["OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=k1"])
        try await exporter.export(spans)
        await exporter.shutdown()
        let got = try grpc.received()
        #expect(got.count == 1)
        #expect(got.first == Data(try #require(http.requests.first).body), "the ExportTraceServiceRequest bytes differ")
        let metadata = try String(contentsOf: grpc.dir.appendingPathComponent("metadata.txt"), encoding: .utf8)
        #expect(metadata.contains("('x-api-key', 'k1')"), "\(metadata)")
    }

    @Test func statusCodesClassifyAsTheSpecificationSays() async throws {
        let grpc = try Receiver(fail: ["UNAVAILABLE", "RESOURCE_EXHAUSTED:2", "RESOURCE_EXHAUSTED", "INVALID_ARGUMENT"])
        let exporter = try exporter("http://127.0.0.1:\(grpc.port)")
        var outcomes: [ExportError?] = []
        for _ in 0..<5 {
            do { try await exporter.export([Fixtures.server()]); outcomes.append(nil) } catch let e as ExportError { outcomes.append(e) }
        }
        await exporter.shutdown()
        guard outcomes.count == 5 else { Issue.record("\(outcomes)"); return }
        if case .retryable(_, let after) = outcomes[0] { #expect(after == nil) } else { Issue.record("UNAVAILABLE: \(String(describing: outcomes[0]))") }
        if case .retryable(_, let after) = outcomes[1] { #expect(after == 2) } else { Issue.record("RESOURCE_EXHAUSTED + RetryInfo: \(String(describing: outcomes[1]))") }
        if case .permanent = outcomes[2] {} else { Issue.record("RESOURCE_EXHAUSTED alone: \(String(describing: outcomes[2]))") }
        if case .permanent = outcomes[3] {} else { Issue.record("INVALID_ARGUMENT: \(String(describing: outcomes[3]))") }
        #expect(outcomes[4] == nil)
        #expect(try grpc.received().count == 1)
    }

    @Test func tlsWithTheCollectorsCAAndAWrongOne() async throws {
        let certs = try TLSExportTests.Certificates()
        let grpc = try Receiver(tls: certs)
        let good = try exporter("https://127.0.0.1:\(grpc.port)", ["OTEL_EXPORTER_OTLP_CERTIFICATE": certs.path("ca.pem")])
        try await good.export([Fixtures.server()])
        await good.shutdown()
        #expect(try grpc.received().count == 1)
        let bad = try exporter("https://127.0.0.1:\(grpc.port)", ["OTEL_EXPORTER_OTLP_CERTIFICATE": certs.path("other.pem"), "OTEL_EXPORTER_OTLP_TIMEOUT": "3000"])
        do {
            try await bad.export([Fixtures.server()])
            Issue.record("export with the wrong CA succeeded")
        } catch let e as ExportError {
            print("gRPC with a wrong CA: \(e)")
            #expect(!"\(e)".contains("\n"), "one line: \(e)")
            guard case .permanent(let reason) = e else { Issue.record("retried in vain: \(e)"); return }
            #expect(reason.contains("certificate verify failed") && reason.contains("hint:"), "\(reason)")
        }
        await bad.shutdown()
        #expect(try grpc.received().count == 1)
    }

    @Test func metricsOverGRPC() async throws {
        let grpc = try Receiver()
        let metrics = RequestMetrics(startTimeUnixNano: 1)
        metrics.record(Fixtures.server())
        let exporter = try exporter("http://127.0.0.1:\(grpc.port)")
        try await exporter.export(metrics: .init(metrics.snapshot(), startTimeUnixNano: 1, timeUnixNano: 2))
        await exporter.shutdown()
        let text = try String(contentsOf: grpc.dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        #expect(text.contains("http.server.request.duration") && text.contains("AGGREGATION_TEMPORALITY_CUMULATIVE"), "\(text)")
    }
}

@Suite struct OTLPProtocolTests {
    typealias C = OTLPHTTPConfiguration

    @Test func flagThenSignalThenGeneralVariable() throws {
        #expect(try OTLPProtocol.resolve(flag: nil, environment: [:], signal: .traces) == .httpProtobuf)
        let env = ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/json"]
        #expect(try OTLPProtocol.resolve(flag: nil, environment: env, signal: .traces) == .grpc)
        #expect(try OTLPProtocol.resolve(flag: nil, environment: env, signal: .metrics) == .httpJSON)
        #expect(try OTLPProtocol.resolve(flag: "http/protobuf", environment: env, signal: .metrics) == .httpProtobuf)
        #expect(throws: OTLPConfigurationError.invalidProtocol(value: "grpc-web", source: "--otlp-protocol")) {
            try OTLPProtocol.resolve(flag: "grpc-web", environment: [:], signal: .traces)
        }
    }

    @Test func grpcEndpointsAreTakenAsTheyAreWithPort4317() throws {
        #expect(try C.resolve(explicitEndpoint: "http://collector", environment: [:], protocol: .grpc)?.endpoint.absoluteString == "http://collector:4317")
        #expect(try C.resolve(explicitEndpoint: "https://c:9999/ignored", environment: [:], protocol: .grpc)?.endpoint.absoluteString == "https://c:9999")
        #expect(try C.resolve(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://e"], signal: .metrics, protocol: .grpc)?.endpoint.absoluteString == "http://e:4317")
        #expect(try C.resolve(explicitEndpoint: "http://c", environment: ["OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"])?.gzip == true)
        #expect(throws: OTLPConfigurationError.self) { try C.resolve(explicitEndpoint: "http://c", environment: ["OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"]) }
    }

    @Test func gzipBodiesAreGzip() throws {
        let input = Array((0..<5000).map { UInt8(truncatingIfNeeded: $0 % 251) })
        let packed = try #require(Gzip.compress(input))
        #expect(packed.count < input.count && packed.prefix(2) == [0x1f, 0x8b])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).gz")
        try Data(packed).write(to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-dc", dir.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0 && [UInt8](data) == input, "gzip -d gives the input back")
    }
}
