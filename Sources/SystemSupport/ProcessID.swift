/// Parses a process id given as text: decimal digits only (no sign, no
/// blanks), a positive value that fits `pid_t`. Nil for anything else.
public func parseProcessID<S: StringProtocol>(_ text: S) -> Int32? {
    guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
          let value = Int32(text), value > 0 else { return nil }
    return value
}
