/// Splits SQL statement bytes into tokens, enough to find the operation and
/// to replace literals; not a parser. Works on bytes (UTF-8 or not), never
/// fails: unterminated strings, identifiers and comments (a truncated capture)
/// end at the end of the input and say so.
///
/// `.mysql` follows MySQL's default SQL mode: `"..."` is a string (not
/// ANSI_QUOTES), backslash escapes inside strings (not NO_BACKSLASH_ESCAPES),
/// `-- ` needs a space or control character after the dashes, `#` comments to
/// end of line, `/*! ... */` and `/*+ ... */` hold SQL (versioned code,
/// optimizer hints).
///
/// `.postgresql` follows PostgreSQL's lexical rules: `"..."` is a quoted
/// identifier, `'...'` a string without backslash escapes
/// (standard_conforming_strings, the default since 9.1), `E'...'` one with
/// them, `$tag$...$tag$` (and `$$...$$`) a dollar-quoted string, `$1` a
/// parameter placeholder, `--` a comment to end of line, `/* */` comments
/// nest, and `#`, `@` and `` ` `` are operators.
struct SQLLexer: Sequence, IteratorProtocol {
    /// What a token is.
    enum Kind: Equatable {
        case whitespace
        /// `-- `, `#` or `/* */` comment.
        case comment
        /// `/*!NNNNN` or `/*+`: the start of a comment that holds SQL.
        case codeCommentOpen
        /// The `*/` that ends a `codeCommentOpen`.
        case codeCommentClose
        /// Keyword, identifier or `@variable`.
        case word
        /// `` `identifier` ``.
        case quotedIdentifier
        /// `'...'`, `"..."`, `X'..'`, `B'..'`, `N'..'`.
        case string
        /// Integer, decimal, exponent, `0x..`, `0b..`.
        case number
        /// Any other single byte (operators, parentheses, commas, `?`).
        case punctuation
        /// A PostgreSQL parameter placeholder, `$1`.
        case parameter
    }

    /// One token: its kind and byte range in the input.
    struct Token: Equatable {
        var kind: Kind
        var range: Range<Int>
        /// For strings, quoted identifiers and comments: false when the input ended first.
        var terminated = true
    }

    private let s: [UInt8]
    private let dialect: SQLDialect
    private var i = 0
    private var inCodeComment = false
    /// The last token that was not whitespace or comment (decides whether `.5` is a number).
    private var previous: Kind?

    init(_ bytes: [UInt8], dialect: SQLDialect = .mysql) {
        s = bytes
        self.dialect = dialect
    }

    mutating func next() -> Token? {
        guard i < s.count else { return nil }
        if dialect == .postgresql { return nextPostgres() }
        let start = i
        let c = s[i]
        var token: Token
        if isSpace(c) {
            while i < s.count, isSpace(s[i]) { i += 1 }
            token = Token(kind: .whitespace, range: start..<i)
        } else if c == UInt8(ascii: "#") || (c == UInt8(ascii: "-") && at(i + 1) == UInt8(ascii: "-") && (i + 2 >= s.count || at(i + 2) <= 0x20)) {
            while i < s.count, s[i] != UInt8(ascii: "\n") { i += 1 }
            token = Token(kind: .comment, range: start..<i)
        } else if c == UInt8(ascii: "/") && at(i + 1) == UInt8(ascii: "*") {
            token = blockComment(start)
        } else if inCodeComment && c == UInt8(ascii: "*") && at(i + 1) == UInt8(ascii: "/") {
            i += 2
            inCodeComment = false
            token = Token(kind: .codeCommentClose, range: start..<i)
        } else if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
            token = quoted(start, kind: .string)
        } else if c == UInt8(ascii: "`") {
            token = quoted(start, kind: .quotedIdentifier)
        } else if isDigit(c) || (c == UInt8(ascii: ".") && isDigit(at(i + 1)) && !endsValue(previous)) {
            token = number(start)
        } else if isWordByte(c) || c == UInt8(ascii: "@") {
            i += 1
            while i < s.count, isWordByte(s[i]) || s[i] == UInt8(ascii: "@") { i += 1 }
            // X'..', B'..', N'..': one literal with its prefix.
            if i - start == 1, at(i) == UInt8(ascii: "'"), [UInt8(ascii: "x"), UInt8(ascii: "b"), UInt8(ascii: "n")].contains(c | 0x20) {
                token = quoted(start, kind: .string, quoteAt: i)
            } else {
                token = Token(kind: .word, range: start..<i)
            }
        } else {
            i += 1
            token = Token(kind: .punctuation, range: start..<i)
        }
        if token.kind != .whitespace && token.kind != .comment { previous = token.kind }
        return token
    }

    /// One token by PostgreSQL's rules.
    private mutating func nextPostgres() -> Token? {
        let start = i
        let c = s[i]
        var token: Token
        if isSpace(c) {
            while i < s.count, isSpace(s[i]) { i += 1 }
            token = Token(kind: .whitespace, range: start..<i)
        } else if c == UInt8(ascii: "-") && at(i + 1) == UInt8(ascii: "-") {
            while i < s.count, s[i] != UInt8(ascii: "\n") { i += 1 }
            token = Token(kind: .comment, range: start..<i)
        } else if c == UInt8(ascii: "/") && at(i + 1) == UInt8(ascii: "*") {
            token = nestedComment(start)
        } else if c == UInt8(ascii: "'") {
            token = quoted(start, kind: .string, backslashEscapes: false)
        } else if c == UInt8(ascii: "\"") {
            token = quoted(start, kind: .quotedIdentifier)
        } else if c == UInt8(ascii: "$") && isDigit(at(i + 1)) {
            i += 1
            while i < s.count, isDigit(s[i]) { i += 1 }
            token = Token(kind: .parameter, range: start..<i)
        } else if c == UInt8(ascii: "$"), let tagEnd = dollarTagEnd(start) {
            token = dollarQuoted(start, tagEnd: tagEnd)
        } else if isDigit(c) || (c == UInt8(ascii: ".") && isDigit(at(i + 1)) && !endsValue(previous)) {
            token = number(start)
        } else if isWordByte(c) && c != UInt8(ascii: "$") {
            i += 1
            while i < s.count, isWordByte(s[i]) { i += 1 }
            // E'..' (backslash escapes), X'..', B'..', N'..': one literal with its prefix.
            if i - start == 1, at(i) == UInt8(ascii: "'") {
                let p = c | 0x20
                if p == UInt8(ascii: "e") {
                    token = quoted(start, kind: .string, quoteAt: i, backslashEscapes: true)
                } else if [UInt8(ascii: "x"), UInt8(ascii: "b"), UInt8(ascii: "n")].contains(p) {
                    token = quoted(start, kind: .string, quoteAt: i, backslashEscapes: false)
                } else {
                    token = Token(kind: .word, range: start..<i)
                }
            } else {
                token = Token(kind: .word, range: start..<i)
            }
        } else {
            i += 1
            token = Token(kind: .punctuation, range: start..<i)
        }
        if token.kind != .whitespace && token.kind != .comment { previous = token.kind }
        return token
    }

    // MARK: Pieces

    private func at(_ j: Int) -> UInt8 { j < s.count ? s[j] : 0 }

    private mutating func blockComment(_ start: Int) -> Token {
        let marker = at(start + 2)
        if marker == UInt8(ascii: "!") || marker == UInt8(ascii: "+") {
            i = start + 3
            while i < s.count, isDigit(s[i]) { i += 1 }
            inCodeComment = true
            return Token(kind: .codeCommentOpen, range: start..<i)
        }
        i = start + 2
        while i < s.count {
            if s[i] == UInt8(ascii: "*") && at(i + 1) == UInt8(ascii: "/") {
                i += 2
                return Token(kind: .comment, range: start..<i)
            }
            i += 1
        }
        return Token(kind: .comment, range: start..<i, terminated: false)
    }

    /// A PostgreSQL block comment; `/* /* */ */` nests.
    private mutating func nestedComment(_ start: Int) -> Token {
        var depth = 0
        i = start
        while i < s.count {
            if s[i] == UInt8(ascii: "/") && at(i + 1) == UInt8(ascii: "*") {
                depth += 1
                i += 2
            } else if s[i] == UInt8(ascii: "*") && at(i + 1) == UInt8(ascii: "/") {
                depth -= 1
                i += 2
                if depth == 0 { return Token(kind: .comment, range: start..<i) }
            } else {
                i += 1
            }
        }
        return Token(kind: .comment, range: start..<i, terminated: false)
    }

    /// The index after the opening `$tag$` at `start`, if one starts there: the
    /// tag is empty or an identifier without `$`.
    private func dollarTagEnd(_ start: Int) -> Int? {
        var j = start + 1
        if at(j) == UInt8(ascii: "$") { return j + 1 }
        guard j < s.count, isWordByte(s[j]), !isDigit(s[j]), s[j] != UInt8(ascii: "$") else { return nil }
        while j < s.count, isWordByte(s[j]), s[j] != UInt8(ascii: "$") { j += 1 }
        return at(j) == UInt8(ascii: "$") ? j + 1 : nil
    }

    /// `$tag$ ... $tag$`: a string that ends only at the same tag.
    private mutating func dollarQuoted(_ start: Int, tagEnd: Int) -> Token {
        let tag = s[start..<tagEnd]
        var j = tagEnd
        while j + tag.count <= s.count {
            if s[j] == UInt8(ascii: "$") && s[j..<(j + tag.count)].elementsEqual(tag) {
                i = j + tag.count
                return Token(kind: .string, range: start..<i)
            }
            j += 1
        }
        i = s.count
        return Token(kind: .string, range: start..<i, terminated: false)
    }

    /// A quoted run starting with the quote at `quoteAt` (default `start`):
    /// a doubled quote is one quote; in strings a backslash escapes the next
    /// byte (unless `backslashEscapes` is false).
    private mutating func quoted(_ start: Int, kind: Kind, quoteAt: Int? = nil, backslashEscapes: Bool = true) -> Token {
        let q = quoteAt ?? start
        let quote = s[q]
        i = q + 1
        while i < s.count {
            let c = s[i]
            if c == UInt8(ascii: "\\") && kind == .string && backslashEscapes {
                i += 2
            } else if c == quote {
                if at(i + 1) == quote {
                    i += 2
                } else {
                    i += 1
                    return Token(kind: kind, range: start..<i)
                }
            } else {
                i += 1
            }
        }
        i = s.count
        return Token(kind: kind, range: start..<i, terminated: false)
    }

    /// A number; if letters follow it directly (`1st_col`), it was an identifier.
    private mutating func number(_ start: Int) -> Token {
        if s[i] == UInt8(ascii: "0"), at(i + 1) | 0x20 == UInt8(ascii: "x"), isHexDigit(at(i + 2)) {
            i += 2
            while i < s.count, isHexDigit(s[i]) { i += 1 }
        } else if s[i] == UInt8(ascii: "0"), at(i + 1) | 0x20 == UInt8(ascii: "b"), at(i + 2) == UInt8(ascii: "0") || at(i + 2) == UInt8(ascii: "1") {
            i += 2
            while i < s.count, s[i] == UInt8(ascii: "0") || s[i] == UInt8(ascii: "1") { i += 1 }
        } else {
            while i < s.count, isDigit(s[i]) { i += 1 }
            if at(i) == UInt8(ascii: ".") {
                i += 1
                while i < s.count, isDigit(s[i]) { i += 1 }
            }
            if at(i) | 0x20 == UInt8(ascii: "e") {
                var j = i + 1
                if at(j) == UInt8(ascii: "+") || at(j) == UInt8(ascii: "-") { j += 1 }
                if isDigit(at(j)) {
                    i = j
                    while i < s.count, isDigit(s[i]) { i += 1 }
                }
            }
        }
        if i < s.count, isWordByte(s[i]) {
            while i < s.count, isWordByte(s[i]) { i += 1 }
            return Token(kind: .word, range: start..<i)
        }
        return Token(kind: .number, range: start..<i)
    }

    private func endsValue(_ kind: Kind?) -> Bool {
        kind == .word || kind == .quotedIdentifier || kind == .number || kind == .string || kind == .parameter
    }
}

/// Whose lexical rules a statement follows.
public enum SQLDialect: String, Sendable {
    case mysql
    case postgresql
}

/// Bytes of identifiers and keywords: ASCII letters, digits, `_`, `$`, and
/// every non-ASCII byte (MySQL allows Unicode identifiers).
func isWordByte(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        || isDigit(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "$") || c >= 0x80
}

func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

private func isHexDigit(_ c: UInt8) -> Bool {
    isDigit(c) || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "f"))
}

private func isSpace(_ c: UInt8) -> Bool {
    c == 0x20 || (c >= 0x09 && c <= 0x0d)
}
