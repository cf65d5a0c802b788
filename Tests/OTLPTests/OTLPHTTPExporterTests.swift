import Foundation
import Testing
import Tracing
@testable import OTLP

@Suite struct OTLPHTTPExporterTests {
    @Test func receiverGetsProtobufThatProtocDecodes() async throws {
        let receiver = try TestHTTPReceiver()
        defer { receiver.stop() }
        let config = try #require(try OTLPHTTPConfiguration.resolve(explicitEndpoint: receiver.url, environment: [:]))
        let exporter = OTLPHTTPExporter(configuration: config)
        try await exporter.export([Fixtures.server(), Fixtures.mysql()])
        await exporter.shutdown()

        let req = try #require(receiver.requests.first)
        #expect(receiver.requests.count == 1)
        #expect(req.method == "POST")
        #expect(req.path == "/v1/traces")
        #expect(req.headers["content-type"] == "application/x-protobuf")
        guard let text = try External.protocDecode(req.body) else { return }
        let server = Fixtures.server()
        #expect(text.contains(#"trace_id: "\#(External.protoTextEscaped(server.traceID.bytes))""#), "\(text)")
        #expect(text.contains(#"span_id: "\#(External.protoTextEscaped(server.spanID.bytes))""#))
        #expect(text.contains(#"parent_span_id: "\#(External.protoTextEscaped(SpanID(0x1122_3344_5566_7788).bytes))""#))
        #expect(text.contains(#"trace_state: "rojo=00f067aa0ba902b7""#))
        #expect(text.contains(#"name: "GET /api/users""#))
        #expect(text.contains("kind: SPAN_KIND_SERVER"))
        #expect(text.contains("kind: SPAN_KIND_CLIENT"))
        #expect(text.contains("start_time_unix_nano: 1700000000123456789"))
        #expect(text.contains("end_time_unix_nano: 1700000000135802467"))
        #expect(text.contains(#"key: "url.query""#) && text.contains(#"string_value: "id=3""#))
        #expect(text.contains("int_value: 200"))
        #expect(text.contains("double_value: 0.5"))
        #expect(text.contains("bool_value: true"))
        #expect(text.contains("int_value: 1234"))
        #expect(text.contains(#"name: "uprobe-trace""#))
        #expect(text.contains("code: STATUS_CODE_ERROR"))
        #expect(text.contains(#"message: "Table \'shop.t\' doesn\'t exist""#))
        #expect(text.components(separatedBy: "resource_spans {").count == 3)
    }

    @Test func headersFromEnvironmentArrive() async throws {
        let receiver = try TestHTTPReceiver()
        defer { receiver.stop() }
        let env = ["OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=abc%20def%2C1, tenant = t1 ,x-dup=generic",
                   "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "X-Dup=traces"]
        let config = try #require(try OTLPHTTPConfiguration.resolve(explicitEndpoint: receiver.url + "/v1/traces", environment: env))
        let exporter = OTLPHTTPExporter(configuration: config)
        try await exporter.export([Fixtures.server()])
        let req = try #require(receiver.requests.first)
        #expect(req.path == "/v1/traces")
        #expect(req.headers["x-api-key"] == "abc def,1")
        #expect(req.headers["tenant"] == "t1")
        #expect(req.headers["x-dup"] == "traces")
    }

    @Test func statusCodesClassify() async throws {
        let receiver = try TestHTTPReceiver(script: [
            .init(status: 503, headers: [("Retry-After", "7")]), .init(status: 502), .init(status: 429),
            .init(status: 400), .init(status: 500),
        ])
        defer { receiver.stop() }
        let exporter = OTLPHTTPExporter(configuration: .init(endpoint: URL(string: receiver.url + "/v1/traces")!))
        func outcome() async -> ExportError? {
            do { try await exporter.export([Fixtures.server()]); return nil } catch { return error as? ExportError }
        }
        guard case .retryable(_, 7?) = await outcome() else { Issue.record("503 with Retry-After: 7"); return }
        guard case .retryable(_, nil) = await outcome() else { Issue.record("502"); return }
        guard case .retryable = await outcome() else { Issue.record("429"); return }
        guard case .permanent(let r) = await outcome() else { Issue.record("400"); return }
        #expect(r.contains("HTTP 400"))
        guard case .permanent = await outcome() else { Issue.record("500 is not retryable in OTLP"); return }
        #expect(await outcome() == nil)
    }

    @Test func connectionRefusedIsRetryable() async throws {
        let port = try TestHTTPReceiver.closedPort()
        let exporter = OTLPHTTPExporter(configuration: .init(endpoint: URL(string: "http://127.0.0.1:\(port)/v1/traces")!, timeout: 5))
        do {
            try await exporter.export([Fixtures.server()])
            Issue.record("expected a connection error")
        } catch let e as ExportError {
            guard case .retryable = e else { Issue.record("not retryable: \(e)"); return }
        }
    }

    @Test func retryAfterParses() {
        #expect(OTLPHTTPExporter.parseRetryAfter("0") == 0)
        #expect(OTLPHTTPExporter.parseRetryAfter(" 12 ") == 12)
        #expect(OTLPHTTPExporter.parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == 0)
        #expect(OTLPHTTPExporter.parseRetryAfter("soon") == nil)
    }

    @Test func endpointSelection() throws {
        typealias C = OTLPHTTPConfiguration
        #expect(try C.resolve(environment: [:]) == nil)
        #expect(try C.resolve(explicitEndpoint: "http://h:4318", environment: [:])?.endpoint.absoluteString == "http://h:4318/v1/traces")
        #expect(try C.resolve(explicitEndpoint: "http://h:4318/", environment: [:])?.endpoint.absoluteString == "http://h:4318/v1/traces")
        #expect(try C.resolve(explicitEndpoint: "http://h/v1/traces", environment: [:])?.endpoint.absoluteString == "http://h/v1/traces")
        #expect(try C.resolve(explicitEndpoint: "https://h", environment: [:])?.endpoint.absoluteString == "https://h/v1/traces")
        // Certificate files are checked up front: a typo is one error at start, not a failure per export.
        #expect(throws: OTLPConfigurationError.unreadableFile(path: "/nonexistent/ca.pem", source: "OTEL_EXPORTER_OTLP_CERTIFICATE")) {
            try C.resolve(explicitEndpoint: "https://h", environment: ["OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"])
        }
        let tls = try C.resolve(explicitEndpoint: "https://h", environment: ["OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/hostname",
                                                                           "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": "/etc/hostname"])?.tls
        #expect(tls == TLSSettings(caFile: "/etc/hostname", clientCertificate: nil, clientKey: "/etc/hostname"))
        let env = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318/prefix/",
                   "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:9999/custom"]
        #expect(try C.resolve(explicitEndpoint: "http://cli:1", environment: env)?.endpoint.absoluteString == "http://cli:1/v1/traces")
        #expect(try C.resolve(environment: env)?.endpoint.absoluteString == "http://traces:9999/custom")
        #expect(try C.resolve(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318/prefix/"])?.endpoint.absoluteString
            == "http://base:4318/prefix/v1/traces")
        #expect(try C.resolve(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"])?.timeout == 2.5)
        #expect(throws: OTLPConfigurationError.self) { try C.resolve(explicitEndpoint: "localhost:4318", environment: [:]) }
        #expect(throws: OTLPConfigurationError.self) {
            try C.resolve(explicitEndpoint: "http://h", environment: ["OTEL_EXPORTER_OTLP_HEADERS": "novalue"])
        }
    }
}

/// The socket client's parsing and URL handling, without a network.
@Suite struct HTTPClientTests {
    @Test func targets() {
        let t = HTTPClient.Target("http://collector:4318/v1/traces")
        #expect(t?.host == "collector" && t?.port == 4318 && t?.path == "/v1/traces")
        #expect(HTTPClient.Target("http://[::1]:4318/v1/traces")?.host == "::1")
        #expect(HTTPClient.Target("http://[::1]:4318/x")?.hostHeader == "[::1]:4318")
        #expect(HTTPClient.Target("http://h")?.path == "/" && HTTPClient.Target("http://h")?.port == 80)
        #expect(HTTPClient.Target("https://h/")?.port == 443 && HTTPClient.Target("https://h/")?.tls == true)
        #expect(HTTPClient.Target("https://h:4318/")?.hostHeader == "h:4318" && HTTPClient.Target("https://h/")?.hostHeader == "h")
        #expect(HTTPClient.Target("ftp://h/") == nil)
        #expect(HTTPClient.Target("http://h:notaport/") == nil)
    }

    @Test func responses() throws {
        let plain = try HTTPClient.parseWithCompleteness(Array("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 4\r\n\r\nbusy".utf8))
        #expect(plain.complete && plain.response.status == 503 && plain.response.headers["retry-after"] == "2")
        #expect(plain.response.body == Array("busy".utf8))
        let partial = try HTTPClient.parseWithCompleteness(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8))
        #expect(!partial.complete)
        let chunked = try HTTPClient.parseWithCompleteness(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".utf8))
        #expect(chunked.complete && chunked.response.body == Array("abcde".utf8))
        #expect(throws: HTTPClient.Failure.self) { try HTTPClient.parse(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8)) }
        #expect(throws: HTTPClient.Failure.connection("connection closed without a response")) { try HTTPClient.parse([]) }
        // The framing is HTTPHeadParser's: interim 1xx heads, bodies to the end, bad chunks, a request instead.
        let interim = try HTTPClient.parseWithCompleteness(Array("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8))
        #expect(interim.complete && interim.response.status == 200 && interim.response.body == Array("ok".utf8))
        let toClose = try HTTPClient.parseWithCompleteness(Array("HTTP/1.0 400 Bad Request\r\n\r\nbad span".utf8))
        #expect(!toClose.complete && toClose.response.status == 400 && toClose.response.body == Array("bad span".utf8))
        #expect(throws: HTTPClient.Failure.protocolError("malformed response body framing")) {
            try HTTPClient.parse(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8))
        }
        #expect(throws: HTTPClient.Failure.protocolError("not an HTTP/1.x status line: GET / HTTP/1.1")) {
            try HTTPClient.parse(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        }
        #expect(throws: HTTPClient.Failure.protocolError("incomplete response head")) {
            try HTTPClient.parse(Array("HTTP/1.1 200 OK\r\nContent-Le".utf8))
        }
    }
}
