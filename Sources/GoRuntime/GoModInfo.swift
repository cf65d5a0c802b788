import Symbols

/// The module-info text of a Go binary's build info, as `runtime/debug.BuildInfo.String()`
/// writes it: one tab-separated record per line.
///
///     path    example.com/app/server
///     mod     example.com/app (devel)
///     dep     example.com/greet       v0.1.0
///     =>      ./greet (devel)
///     build   -ldflags="-s -w"
///
/// `=>` replaces the module on the line before it. Keys and values of `build`
/// lines are Go-quoted when they contain spaces, tabs, quotes or `=`.
/// Unknown record kinds are skipped, so newer toolchains still parse.
enum GoModInfo {
    /// The linker brackets the text with 16-byte sentinels; Go recognizes them
    /// by the newline 17 bytes from the end. Without them there is no module info.
    static func stripSentinels(_ s: [UInt8]) -> ArraySlice<UInt8> {
        guard s.count >= 33, s[s.count - 17] == UInt8(ascii: "\n") else { return [] }
        return s[16..<(s.count - 16)]
    }

    static func parse(_ text: ArraySlice<UInt8>, path: String) throws(GoRuntimeError) -> GoBuildInfo {
        func malformed(_ what: String) -> GoRuntimeError {
            .malformed(path: path, section: ".go.buildinfo", what: what)
        }
        var info = GoBuildInfo(goVersion: "")
        // Where the previous mod/dep went, for a following `=>`.
        enum Last { case none, main, dep }
        var last = Last.none
        let s = String(decoding: text, as: UTF8.self)
        for (n, line) in s.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard let kind = fields.first else { continue }
            func module() throws(GoRuntimeError) -> GoModule {
                guard fields.count >= 3, !fields[1].isEmpty else {
                    throw malformed("line \(n + 1): \(kind) needs a path and a version: \"\(line)\"")
                }
                return GoModule(path: fields[1], version: fields[2], sum: fields.count > 3 ? fields[3] : "")
            }
            switch kind {
            case "go":
                if fields.count > 1 { info.goVersion = fields[1] }
                last = .none
            case "path":
                info.path = fields.count > 1 ? fields[1...].joined(separator: "\t") : ""
                last = .none
            case "mod":
                info.main = try module()
                last = .main
            case "dep":
                info.deps.append(try module())
                last = .dep
            case "=>":
                let m = try module()
                let r = GoModule.Version(path: m.path, version: m.version, sum: m.sum)
                switch last {
                case .main: info.main?.replacement = r
                case .dep: info.deps[info.deps.count - 1].replacement = r
                case .none: throw malformed("line \(n + 1): replacement without a module before it")
                }
                last = .none
            case "build":
                let rest = fields.dropFirst().joined(separator: "\t")
                guard let setting = parseSetting(Substring(rest)) else {
                    throw malformed("line \(n + 1): build setting is not key=value: \"\(rest)\"")
                }
                info.settings.append(setting)
                last = .none
            default:
                last = .none
            }
        }
        return info
    }

    /// `key=value` with either side optionally Go-quoted.
    static func parseSetting(_ s: Substring) -> GoBuildSetting? {
        var rest = s
        let key: String
        if rest.first == "\"" {
            guard let (k, after) = unquotePrefix(rest) else { return nil }
            key = k
            rest = after
            guard rest.first == "=" else { return nil }
            rest = rest.dropFirst()
        } else {
            guard let eq = rest.firstIndex(of: "=") else { return nil }
            key = String(rest[..<eq])
            rest = rest[rest.index(after: eq)...]
        }
        guard !key.isEmpty else { return nil }
        if rest.first == "\"" {
            guard let (v, after) = unquotePrefix(rest), after.isEmpty else { return nil }
            return GoBuildSetting(key: key, value: v)
        }
        return GoBuildSetting(key: key, value: String(rest))
    }

    /// Decodes the Go double-quoted string literal at the start of `s`
    /// (as `strconv.Quote` writes it); returns it and what follows.
    static func unquotePrefix(_ s: Substring) -> (String, Substring)? {
        let u = Array(s.utf8)
        guard u.first == UInt8(ascii: "\"") else { return nil }
        var out: [UInt8] = []
        var i = 1
        func hex(_ n: Int) -> UInt32? {
            guard i + n <= u.count else { return nil }
            var v: UInt32 = 0
            for c in u[i..<(i + n)] {
                guard let d = Character(Unicode.Scalar(c)).hexDigitValue else { return nil }
                v = v << 4 | UInt32(d)
            }
            i += n
            return v
        }
        func appendScalar(_ v: UInt32) -> Bool {
            guard let sc = Unicode.Scalar(v) else { return false }
            out.append(contentsOf: Array(String(Character(sc)).utf8))
            return true
        }
        while i < u.count {
            let c = u[i]
            i += 1
            if c == UInt8(ascii: "\"") {
                // The closing quote is ASCII, so this index is on a character boundary.
                let end = s.utf8.index(s.utf8.startIndex, offsetBy: i)
                return (String(decoding: out, as: UTF8.self), s[end...])
            }
            guard c == UInt8(ascii: "\\") else { out.append(c); continue }
            guard i < u.count else { return nil }
            let e = u[i]
            i += 1
            switch e {
            case UInt8(ascii: "a"): out.append(7)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "v"): out.append(11)
            case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): out.append(e)
            case UInt8(ascii: "x"):
                guard let v = hex(2) else { return nil }
                out.append(UInt8(v))
            case UInt8(ascii: "u"):
                guard let v = hex(4), appendScalar(v) else { return nil }
            case UInt8(ascii: "U"):
                guard let v = hex(8), appendScalar(v) else { return nil }
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                guard i + 2 <= u.count else { return nil }
                var v = UInt32(e - UInt8(ascii: "0"))
                for d in u[i..<(i + 2)] {
                    guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "7") else { return nil }
                    v = v << 3 | UInt32(d - UInt8(ascii: "0"))
                }
                i += 2
                guard v <= 255 else { return nil }
                out.append(UInt8(v))
            default:
                return nil
            }
        }
        return nil
    }
}
