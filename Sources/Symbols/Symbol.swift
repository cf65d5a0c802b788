/// One entry of `.symtab` or `.dynsym`.
public struct Symbol: Sendable, Hashable {
    public enum Table: String, Sendable { case symtab, dynsym }

    public var name: String
    /// GNU symbol version (`OPENSSL_3.0.0`), nil when unversioned.
    public var version: String?
    /// True for `name@VER` (hidden or required version), false for the default `name@@VER`.
    public var versionHidden: Bool
    public var info: UInt8
    public var other: UInt8
    public var sectionIndex: UInt16
    public var value: UInt64
    public var size: UInt64
    public var table: Table

    public var typeCode: UInt8 { info & 0xf }
    public var bindCode: UInt8 { info >> 4 }
    public var isDefined: Bool { sectionIndex != 0 }
    public var isFunction: Bool { typeCode == 2 || typeCode == 10 }

    /// `SSL_read@@OPENSSL_3.0.0`, `memcpy@GLIBC_2.14`, or the bare name.
    public var displayName: String {
        guard let version else { return name }
        return name + (versionHidden ? "@" : "@@") + version
    }

    /// readelf's names for `STT_*`.
    public var typeName: String {
        switch typeCode {
        case 0: return "NOTYPE"
        case 1: return "OBJECT"
        case 2: return "FUNC"
        case 3: return "SECTION"
        case 4: return "FILE"
        case 5: return "COMMON"
        case 6: return "TLS"
        case 10: return "IFUNC"
        default: return "TYPE\(typeCode)"
        }
    }

    /// readelf's names for `STB_*`.
    public var bindName: String {
        switch bindCode {
        case 0: return "LOCAL"
        case 1: return "GLOBAL"
        case 2: return "WEAK"
        case 10: return "UNIQUE"
        default: return "BIND\(bindCode)"
        }
    }

    public static let undefinedSection: UInt16 = 0
    public static let absoluteSection: UInt16 = 0xfff1
    public static let commonSection: UInt16 = 0xfff2
    public static let extendedIndex: UInt16 = 0xffff
}
