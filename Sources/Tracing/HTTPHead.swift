/// One HTTP/1.x message head as `HTTPHeadParser` found it: the start line and
/// the few headers uprobe-trace uses. Credentials (Authorization, Cookie,
/// Set-Cookie, Proxy-Authorization) and every other header are never kept.
public struct HTTPHead: Sendable, Equatable {
    /// Request line or status line.
    public enum StartLine: Sendable, Equatable {
        case request(method: String, target: String, version: String)
        case response(version: String, status: Int, reason: String)
    }

    public var startLine: StartLine
    /// Kept headers by lowercased name; a repeated header's values joined with ", ".
    public var headers: [String: String]
    /// How the body after this head ends (decided by the parser).
    public var framing: HTTPBodyFraming

    /// Headers that are kept (lowercased); everything else is dropped as it is parsed.
    public static let keptHeaders: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "traceparent", "tracestate", "content-type",
    ]

    public init(startLine: StartLine, headers: [String: String] = [:], framing: HTTPBodyFraming = .none) {
        self.startLine = startLine
        self.headers = headers
        self.framing = framing
    }

    public var isRequest: Bool {
        if case .request = startLine { return true }
        return false
    }

    /// Request method; empty for a response.
    public var method: String {
        if case .request(let m, _, _) = startLine { return m }
        return ""
    }

    /// Request target as sent (`/path?query`); empty for a response.
    public var target: String {
        if case .request(_, let t, _) = startLine { return t }
        return ""
    }

    /// Response status code; 0 for a request.
    public var status: Int {
        if case .response(_, let s, _) = startLine { return s }
        return 0
    }

    /// `HTTP/1.1` → `1.1`.
    public var version: String {
        switch startLine {
        case .request(_, _, let v), .response(let v, _, _): return String(v.dropFirst("HTTP/".count))
        }
    }

    /// A kept header's value, by case-insensitive name.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Where a message body ends (RFC 9112 section 6.3).
public enum HTTPBodyFraming: Sendable, Equatable {
    /// No body (requests without length, 1xx/204/304, responses to HEAD).
    case none
    /// `Content-Length: n`.
    case length(Int)
    /// `Transfer-Encoding: chunked`: ends at the zero-size chunk and trailer.
    case chunked
    /// A response with neither: ends when the connection closes (in practice,
    /// the last write before the next message).
    case untilClose
}
