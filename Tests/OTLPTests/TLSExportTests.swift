import Foundation
import Testing
import Tracing
@testable import OTLP

/// OTLP/HTTP over TLS to a real HTTPS receiver (Python's ssl module) with
/// certificates this test makes with the openssl command: the right CA, a
/// wrong CA, a host name, and mutual TLS.
@Suite(.serialized) struct TLSExportTests {
    /// A CA, a server certificate for 127.0.0.1 and localhost signed by it, a
    /// client certificate signed by it, and an unrelated CA.
    final class Certificates {
        let dir: URL
        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let script = """
            set -e
            key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
            key ca.key; openssl req -x509 -new -key ca.key -out ca.pem -subj /CN=uprobe-trace-test-ca -days 2
            key other.key; openssl req -x509 -new -key other.key -out other.pem -subj /CN=some-other-ca -days 2
            key server.key; openssl req -new -key server.key -out server.csr -subj /CN=localhost
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
            key client.key; openssl req -new -key client.key -out client.csr -subj /CN=uprobe-trace-client
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null
            """
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", script]
            p.currentDirectoryURL = dir
            try p.run()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        deinit { try? FileManager.default.removeItem(at: dir) }
    }

    /// The Python receiver serving HTTPS; `.pb` files land in its directory.
    final class Receiver {
        let process = Process()
        let dir: URL
        let port: String
        init(_ certs: Certificates, clientCA: Bool = false) throws {
            dir = certs.dir.appendingPathComponent("received-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("harness/otlp_receiver.py").path
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script, dir.path, "--tls", certs.path("server.pem"), certs.path("server.key")]
                + (clientCA ? ["--client-ca", certs.path("ca.pem")] : [])
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice   // (handshakes the tests make fail print tracebacks)
            try process.run()
            var line = Data()
            while !line.contains(10), let chunk = try out.fileHandleForReading.read(upToCount: 1), !chunk.isEmpty { line += chunk }
            port = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "listening ", with: "")
        }
        var received: Int { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".pb") }.count }
        deinit { process.terminate(); process.waitUntilExit() }
    }

    func exporter(_ url: String, _ env: [String: String]) throws -> OTLPHTTPExporter {
        OTLPHTTPExporter(configuration: try #require(try OTLPHTTPConfiguration.resolve(explicitEndpoint: url, environment: env)))
    }

    @Test func theCollectorsCAIsTrustedByIPAndByName() async throws {
        let certs = try Certificates()
        let receiver = try Receiver(certs)
        for host in ["127.0.0.1", "localhost"] {
            try await exporter("https://\(host):\(receiver.port)", ["OTEL_EXPORTER_OTLP_CERTIFICATE": certs.path("ca.pem")])
                .export([Fixtures.server()])
        }
        #expect(receiver.received == 2)
    }

    @Test func aWrongCAIsOneClearPermanentError() async throws {
        let certs = try Certificates()
        let receiver = try Receiver(certs)
        for env in [["OTEL_EXPORTER_OTLP_CERTIFICATE": certs.path("other.pem")], [:]] {   // another CA; the system's store
            do {
                try await exporter("https://127.0.0.1:\(receiver.port)", env).export([Fixtures.server()])
                Issue.record("export succeeded with \(env)")
            } catch let e as ExportError {
                guard case .permanent(let reason) = e else { Issue.record("not permanent: \(e)"); continue }
                #expect(reason.contains("certificate verify failed") && reason.contains("hint:") && !reason.contains("\n"), "\(reason)")
            }
        }
        #expect(receiver.received == 0)
    }

    @Test func mutualTLSSendsTheClientCertificate() async throws {
        let certs = try Certificates()
        let receiver = try Receiver(certs, clientCA: true)
        let url = "https://127.0.0.1:\(receiver.port)"
        try await exporter(url, ["OTEL_EXPORTER_OTLP_CERTIFICATE": certs.path("ca.pem"),
                                 "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": certs.path("client.pem"),
                                 "OTEL_EXPORTER_OTLP_CLIENT_KEY": certs.path("client.key")]).export([Fixtures.server()])
        #expect(receiver.received == 1)
        await #expect(throws: ExportError.self) {
            try await exporter(url, ["OTEL_EXPORTER_OTLP_CERTIFICATE": certs.path("ca.pem")]).export([Fixtures.server()])
        }
        #expect(receiver.received == 1)
    }
}
