/// A SQL statement as a client sent it (possibly only its first bytes):
/// its operation name and a copy with the literals replaced by `?`.
public struct SQLStatement: Sendable, Equatable {
    /// The statement bytes as captured.
    public let bytes: [UInt8]
    /// The lexical rules it is read by.
    public let dialect: SQLDialect

    public init(bytes: [UInt8], dialect: SQLDialect = .mysql) {
        self.bytes = bytes
        self.dialect = dialect
    }
    public init(_ text: String, dialect: SQLDialect = .mysql) { self.init(bytes: Array(text.utf8), dialect: dialect) }

    /// The statement as text (invalid UTF-8 repaired).
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The first keyword, upper-cased (`SELECT`, `INSERT`, `BEGIN`, ...), after
    /// leading whitespace, comments and parentheses; for `WITH ...` the verb of
    /// the main statement after the common table expressions (`WITH` if the
    /// capture ends before it). Empty when there is no keyword.
    public var operation: String {
        var depth = 0
        var sawWith = false
        for token in SQLLexer(bytes, dialect: dialect) {
            switch token.kind {
            case .whitespace, .comment, .codeCommentOpen, .codeCommentClose:
                continue
            case .punctuation:
                let c = bytes[token.range.lowerBound]
                if c == UInt8(ascii: "(") { depth += 1 }
                else if c == UInt8(ascii: ")") { depth = max(0, depth - 1) }
                else if !sawWith { return "" }
            case .word:
                let word = upper(token.range)
                if !sawWith {
                    if word != "WITH" { return word }
                    sawWith = true
                    depth = 0
                } else if depth == 0 && SQLStatement.mainVerbs.contains(word) {
                    return word
                }
            default:
                if !sawWith { return "" }
            }
        }
        return sawWith ? "WITH" : ""
    }

    /// The statement with every literal replaced by `?`: strings (`'..'`,
    /// `"..."`, with `''` and `\'` escapes), numbers (integers, decimals,
    /// exponents, `0x..`, `0b..`; a sign after an operator, `(`, `,` or a
    /// keyword goes with the number), `X'..'`, `B'..'`, `N'..'`. Identifiers,
    /// backticked or not, keywords, operators and `?` placeholders stay.
    ///
    /// PostgreSQL (`dialect`): `"..."` is an identifier and stays; `'..'`,
    /// `E'..'` and `$tag$..$tag$` strings become `?`; `$1` placeholders stay.
    ///
    /// Comments are dropped (they can hold anything, `/* user=... */`); the
    /// SQL inside `/*! */` and `/*+ */` is kept and sanitized like the rest.
    /// An unterminated string (a truncated capture) becomes `?`, an
    /// unterminated comment is dropped. Leading and trailing whitespace is trimmed.
    public var sanitized: String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var last: SQLLexer.Token?
        var pendingSign: SQLLexer.Token?
        func flushSign() {
            if let sign = pendingSign { out += bytes[sign.range] }
            pendingSign = nil
        }
        for token in SQLLexer(bytes, dialect: dialect) {
            switch token.kind {
            case .comment:
                if let end = out.last, end != 0x20 && end != 0x0a { out.append(0x20) }
                continue
            case .whitespace:
                flushSign()
                out += bytes[token.range]
                continue
            case .string, .number:
                if pendingSign != nil { pendingSign = nil }
                out.append(UInt8(ascii: "?"))
            case .punctuation:
                flushSign()
                let c = bytes[token.range.lowerBound]
                if (c == UInt8(ascii: "-") || c == UInt8(ascii: "+")) && signIsUnary(after: last) {
                    pendingSign = token
                } else {
                    out += bytes[token.range]
                }
            default:
                flushSign()
                out += bytes[token.range]
            }
            last = token
        }
        flushSign()
        return String(decoding: trimmed(out), as: UTF8.self)
    }

    // MARK: Private

    /// Verbs that can follow the common table expressions of a `WITH`.
    static let mainVerbs: Set<String> = ["SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "TABLE", "VALUES"]

    /// Keywords after which `-`/`+` starts a number rather than subtracts.
    static let operandKeywords: Set<String> = [
        "SELECT", "WHERE", "AND", "OR", "NOT", "XOR", "ON", "SET", "VALUES", "VALUE", "IN", "BY", "LIKE",
        "BETWEEN", "WHEN", "THEN", "ELSE", "CASE", "RETURN", "LIMIT", "OFFSET", "IS", "HAVING", "INTERVAL",
        "DEFAULT", "DIV", "MOD", "REGEXP", "RLIKE", "AS",
    ]

    /// Whether a sign after `previous` is part of the number that follows
    /// (`= -1`, `(-1`, `, -1`, `WHERE -1`), not an operator (`a - 1`, `) - 1`).
    private func signIsUnary(after previous: SQLLexer.Token?) -> Bool {
        guard let previous else { return true }
        switch previous.kind {
        case .punctuation:
            let c = bytes[previous.range.lowerBound]
            return c != UInt8(ascii: ")") && c != UInt8(ascii: "?")
        case .word:
            return SQLStatement.operandKeywords.contains(upper(previous.range))
        case .codeCommentOpen:
            return true
        default:
            return false
        }
    }

    private func upper(_ range: Range<Int>) -> String {
        String(decoding: bytes[range].map { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") ? $0 - 32 : $0 }, as: UTF8.self)
    }

    private func trimmed(_ b: [UInt8]) -> ArraySlice<UInt8> {
        let isSpace = { (c: UInt8) in c == 0x20 || (c >= 0x09 && c <= 0x0d) }
        guard let first = b.firstIndex(where: { !isSpace($0) }), let last = b.lastIndex(where: { !isSpace($0) }) else { return [] }
        return b[first...last]
    }
}
