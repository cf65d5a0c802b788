/// A machine register named the way BPF code reads it from `struct pt_regs`
/// (`ctx->rax` on x86-64; `regs[N]` for `xN` on arm64).
public enum GoRegister: String, Sendable, Hashable, CaseIterable {
    case rax, rbx, rcx, rdi, rsi, r8, r9, r10, r11, r14
    case x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15, x28
}

/// The shape of a Go value as the register ABI sees it: how many integer words it
/// takes and in what order. Floating-point values are not modelled (our probes never
/// read them); a signature containing one must not be described with these cases.
public indirect enum GoABIType: Sendable, Equatable {
    /// Pointer, int/uint of any size, uintptr, map, chan, func, unsafe.Pointer, bool.
    case word
    /// `string`: data pointer, length.
    case string
    /// Any interface (including `error`): itab or type word, data word.
    case interface
    /// `[]T`: data pointer, length, capacity.
    case slice
    /// A struct: its fields in order (zero-sized fields omitted).
    case `struct`([GoABIType])
    /// `[N]T`: N == 0 takes nothing, N == 1 is its element, N > 1 always goes on the stack.
    case array(count: Int, element: GoABIType)

    /// Integer words in register-assignment order, or nil if the value must go on the stack.
    var words: Int? {
        switch self {
        case .word: return 1
        case .string, .interface: return 2
        case .slice: return 3
        case .struct(let fields):
            var n = 0
            for f in fields {
                guard let w = f.words else { return nil }
                n += w
            }
            return n
        case .array(let count, let element):
            if count == 0 { return 0 }
            if count == 1 { return element.words }
            return nil
        }
    }
}

/// Where one argument or result lives at function entry (arguments) or at a RET
/// (results).
public enum GoValueLocation: Sendable, Equatable {
    /// In these registers, one per word, in word order (for an interface: itab/type, data).
    case registers([GoRegister])
    /// On the stack: it did not fit in the remaining registers (or is a multi-element array).
    case stack
}

/// A Go function's declared parameters, as the probes need to know them.
public struct GoSignature: Sendable, Equatable {
    public struct Parameter: Sendable, Equatable {
        public let name: String
        public let type: GoABIType
        public init(_ name: String, _ type: GoABIType) {
            self.name = name
            self.type = type
        }
    }

    /// The function's symbol name, as pclntab, `.symtab` and DWARF spell it.
    public let function: String
    /// Arguments in order; a method's receiver comes first.
    public let arguments: [Parameter]
    public let results: [Parameter]

    public init(function: String, arguments: [Parameter], results: [Parameter]) {
        self.function = function
        self.arguments = arguments
        self.results = results
    }

    /// `func (sh serverHandler) ServeHTTP(rw ResponseWriter, req *Request)`:
    /// sh (a struct holding `srv *Server`) RAX, rw itab RBX + data (`*response`) RCX, req RDI.
    public static let serverHandlerServeHTTP = GoSignature(
        function: "net/http.serverHandler.ServeHTTP",
        arguments: [.init("sh", .struct([.word])), .init("rw", .interface), .init("req", .word)],
        results: [])

    /// `func (t *Transport) roundTrip(req *Request) (*Response, error)`:
    /// t RAX, req RBX; at a RET: *Response RAX, error itab RBX + data RCX.
    public static let transportRoundTrip = GoSignature(
        function: "net/http.(*Transport).roundTrip",
        arguments: [.init("t", .word), .init("req", .word)],
        results: [.init("~r0", .word), .init("~r1", .interface)])
}

/// Go's internal register ABI (ABIInternal, Go 1.17+ on amd64, 1.18+ on arm64): which
/// register holds each word of each argument at entry and of each result at a RET.
///
/// Why we model it instead of hard-coding "req is in RDI": the assignment depends on the
/// sizes of every earlier argument (an interface takes two registers, a string two, a
/// slice three), and a value that does not fit entirely in the registers left goes on
/// the stack as a whole. Arguments and results are assigned independently, each
/// starting from the first register. See the Go source's
/// `src/cmd/compile/abi-internal.md`.
public struct GoRegisterABI: Sendable, Equatable {
    public let name: String
    /// Integer registers in assignment order.
    public let integerRegisters: [GoRegister]
    /// The register holding the current goroutine's `*g`.
    public let gRegister: GoRegister

    public init(name: String, integerRegisters: [GoRegister], gRegister: GoRegister) {
        self.name = name
        self.integerRegisters = integerRegisters
        self.gRegister = gRegister
    }

    /// amd64: RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11; g in R14.
    public static let amd64 = GoRegisterABI(
        name: "amd64",
        integerRegisters: [.rax, .rbx, .rcx, .rdi, .rsi, .r8, .r9, .r10, .r11],
        gRegister: .r14)

    /// arm64: X0-X15; g in X28. Kept as data (and tested); the BPF side is x86-64 only.
    public static let arm64 = GoRegisterABI(
        name: "arm64",
        integerRegisters: [.x0, .x1, .x2, .x3, .x4, .x5, .x6, .x7,
                           .x8, .x9, .x10, .x11, .x12, .x13, .x14, .x15],
        gRegister: .x28)

    /// Assigns registers to `values` in order, the way Go assigns either the arguments
    /// or the results of one call.
    public func assign(_ values: [GoABIType]) -> [GoValueLocation] {
        var next = 0
        return values.map { type in
            guard let words = type.words, next + words <= integerRegisters.count else {
                return .stack
            }
            defer { next += words }
            return .registers(Array(integerRegisters[next..<(next + words)]))
        }
    }

    /// Locations of every argument (at entry) and result (at a RET) of `signature`,
    /// keyed by parameter name.
    public func locations(of signature: GoSignature)
        -> (arguments: [(name: String, location: GoValueLocation)],
            results: [(name: String, location: GoValueLocation)])
    {
        let a = assign(signature.arguments.map(\.type))
        let r = assign(signature.results.map(\.type))
        return (zip(signature.arguments, a).map { ($0.name, $1) },
                zip(signature.results, r).map { ($0.name, $1) })
    }

    /// The location of the argument called `name`, or nil if the signature has none.
    public func argument(_ name: String, of signature: GoSignature) -> GoValueLocation? {
        locations(of: signature).arguments.first { $0.name == name }?.location
    }

    /// The location of the result called `name`, or nil if the signature has none.
    public func result(_ name: String, of signature: GoSignature) -> GoValueLocation? {
        locations(of: signature).results.first { $0.name == name }?.location
    }
}
