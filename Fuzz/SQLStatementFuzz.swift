// libFuzzer harness for the SQL sanitizer (SQLLexer, SQLStatement; built by
// Fuzz/run.sh). The input is a statement as a client would send it; every
// input is checked by both dialects' rules (MySQL and PostgreSQL).
//
// Invariants:
// - the lexer's tokens are non-empty and cover the input exactly, in order;
// - no word of a string literal leaks: every run of 3 or more letters, digits
//   or `_` inside a string literal that appears in the sanitized text also
//   appears in the input outside strings, numbers and comments. (A literal's
//   text may legitimately be an identifier too, `WHERE name = 'name'`; and a run
//   of such characters in the output is always copied from one place in the
//   input, as sanitizing puts `?` or a space where it removes something.)
@_cdecl("LLVMFuzzerTestOneInput")
public func sqlStatementFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    check(bytes, .mysql)
    check(bytes, .postgresql)
    return 0
}

private func check(_ bytes: [UInt8], _ dialect: SQLDialect) {
    let size = bytes.count
    var end = 0
    var literalRuns: Set<[UInt8]> = []
    var outside = bytes
    for token in SQLLexer(bytes, dialect: dialect) {
        precondition(token.range.lowerBound == end && !token.range.isEmpty, "token \(token) after \(end)")
        end = token.range.upperBound
        switch token.kind {
        case .string:
            literalRuns.formUnion(wordRuns(bytes[token.range]))
            fallthrough
        case .number, .comment:
            for j in token.range { outside[j] = 0x20 }
        default:
            break
        }
    }
    precondition(end == size, "tokens end at \(end) of \(size)")

    let statement = SQLStatement(bytes: bytes, dialect: dialect)
    _ = statement.operation
    // Not checked: that the sanitized text, lexed again, holds no literal. A
    // comment replaced by a space can turn `--` before it into a `-- ` comment
    // (testdata/fuzz/sql-regressions/found-crash-b524...), and a quote inside a
    // kept backticked identifier then starts a "string" for the second lexer.
    let sanitized = Array(statement.sanitized.utf8)
    let outputRuns = wordRuns(sanitized[...])
    let outsideRuns = wordRuns(outside[...])
    for run in literalRuns where outputRuns.contains(where: { contains($0, run) }) {
        precondition(outsideRuns.contains { contains($0, run) },
                     "\(dialect): literal text \(String(decoding: run, as: UTF8.self)) leaked into \(String(decoding: sanitized, as: UTF8.self))")
    }
}

/// Maximal runs of ASCII letters, digits and `_`, 3 bytes or longer.
private func wordRuns(_ b: ArraySlice<UInt8>) -> Set<[UInt8]> {
    var runs: Set<[UInt8]> = []
    var run: [UInt8] = []
    for c in b {
        if (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c == 0x5f {
            run.append(c)
        } else {
            if run.count >= 3 { runs.insert(run) }
            run.removeAll()
        }
    }
    if run.count >= 3 { runs.insert(run) }
    return runs
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count else { return false }
    return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
}
