import Foundation
import Tracing

/// The one-line, human-readable form of a span that the console exporter prints:
///
///     14:03:07.123456 SERVER GET /api/users?id=3 → 200  12.345 ms  pid 1234  trace 4bf92f35…
///
/// Local time (with microseconds) of the span's start; for HTTP spans the method, path, query
/// and response status from the semantic-convention attributes, otherwise the span name; the
/// duration; the traced process's pid; the first 8 hex digits of the trace id. A span with
/// error status ends in `  ERROR` and its message.
public enum ConsoleLine {
    /// Formats `span`. `utcOffset` (seconds east of UTC) defaults to the local zone at that time.
    public static func format(_ span: Span, utcOffset: Int? = nil) -> String {
        var line = timeOfDay(unixNano: span.startTimeUnixNano, utcOffset: utcOffset)
        line += " " + span.kind.name + " " + subject(span)
        line += "  " + milliseconds(span.durationNanos) + " ms"
        if let pid = span.resource.attribute("process.pid") {
            line += "  pid \(pid)"
        }
        line += "  trace " + span.traceID.hex.prefix(8) + "…"
        if case .error(let message) = span.status {
            line += "  ERROR" + (message.isEmpty ? "" : " " + message)
        }
        return sanitized(line)
    }

    /// `GET /path?query → 200` for HTTP spans, the statement for SQL spans, the span name otherwise.
    static func subject(_ span: Span) -> String {
        if case .string(let query)? = span.attribute("db.query.text") {
            // SQL spans: the (sanitized) statement says more than the operation name.
            // Newlines and tabs inside a statement become spaces: one span, one line.
            let flat = String(query.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 })
            return flat.count > 120 ? String(flat.prefix(120)) + "…" : flat
        }
        guard case .string(let method)? = span.attribute("http.request.method") else { return span.name }
        var s = method
        if case .string(let path)? = span.attribute("url.path") {
            s += " " + path
            if case .string(let query)? = span.attribute("url.query"), !query.isEmpty { s += "?" + query }
        } else {
            s = span.name
        }
        if let status = span.attribute("http.response.status_code") { s += " → \(status)" }
        return s
    }

    /// `HH:MM:SS.uuuuuu`.
    static func timeOfDay(unixNano: UInt64, utcOffset: Int?) -> String {
        let seconds = Int64(unixNano / 1_000_000_000)
        let micros = Int(unixNano % 1_000_000_000 / 1000)
        let offset = utcOffset ?? TimeZone.current.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
        var daySeconds = Int((seconds + Int64(offset)) % 86_400)
        if daySeconds < 0 { daySeconds += 86_400 }
        return pad(daySeconds / 3600, 2) + ":" + pad(daySeconds / 60 % 60, 2) + ":" + pad(daySeconds % 60, 2)
            + "." + pad(micros, 6)
    }

    /// Three decimals, no locale.
    static func milliseconds(_ nanos: UInt64) -> String {
        let micros = (nanos + 500) / 1000
        return "\(micros / 1000)." + pad(Int(micros % 1000), 3)
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// Traced programs control paths and names: keep control characters off the terminal.
    static func sanitized(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else { return s }
        var r = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7f { r.append(contentsOf: "\\x\(pad16(u.value))".unicodeScalars) } else { r.append(u) }
        }
        return String(r)
    }

    private static func pad16(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return h.count == 1 ? "0" + h : h
    }
}
