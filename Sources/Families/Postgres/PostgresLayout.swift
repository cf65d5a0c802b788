import GoRuntime
import Symbols
import TraceEvents

/// Where libpq keeps what the probes read, decoded from the library's own
/// accessor functions rather than assumed per version:
/// - `PQresultStatus`: `mov N(%rdi),%eax` → `PGresult.resultStatus`;
/// - `PQresultErrorField`: `mov N(%rdi),%rX` → `PGresult.errFields`, then the
///   list walk's `mov M(%rX),%rX` (next), the byte compare or load at `C(%rX)`
///   (code) and `add $K,%rX` / `lea K(%rX)` (contents, which must be `C + 1`);
/// - `PQdb`: `mov N(%rdi),%rax` → `PGconn.dbName`;
/// - `PQtransactionStatus` (`status != CONNECTION_OK` → UNKNOWN, `asyncStatus !=
///   PGASYNC_IDLE` → ACTIVE, else `xactStatus`): exactly three 32-bit loads from
///   the PGconn, the second is `PGconn.asyncStatus`.
/// A pattern that does not match leaves that offset 0: the probes then do not
/// read it (no SQLSTATE / status, or no `db.namespace`) and `notes` says so;
/// a value is never guessed.
public struct PostgresLayout: Sendable, Equatable {
    public var resultStatus: Int32 = 0
    public var resultErrFields: Int32 = 0
    public var fieldNext: Int32 = 0
    public var fieldCode: Int32 = 0
    public var fieldContents: Int32 = 0
    public var connDBName: Int32 = 0
    public var connAsyncStatus: Int32 = 0

    /// The accessors' names in libpq.
    public static let accessors = ["PQresultStatus", "PQresultErrorField", "PQdb", "PQtransactionStatus"]

    public init() {}

    /// Decodes the three accessors (`code` returns a function's bytes by name, nil when absent).
    public init(code: (String) -> UnsafeRawBufferPointer?) {
        let rdi = ForwardedCall.rdi
        if let c = code("PQresultStatus"),
           let load = X86MemoryAccess.scan(c, maxInstructions: 6).first(where: { $0.isLoad && !$0.rexW && $0.base == rdi && !$0.hasIndex }),
           load.displacement > 0 {
            resultStatus = Int32(load.displacement)
        }
        if let c = code("PQdb"),
           let load = X86MemoryAccess.scan(c, maxInstructions: 6).first(where: { $0.isLoad && $0.rexW && $0.base == rdi && !$0.hasIndex }),
           load.displacement > 0 {
            connDBName = Int32(load.displacement)
        }
        if let c = code("PQresultErrorField") { decodeErrorField(c) }
        if let c = code("PQtransactionStatus") {
            let loads = X86MemoryAccess.scan(c, maxInstructions: 16).filter { $0.isLoad && !$0.rexW && $0.base == rdi && !$0.hasIndex }
            if loads.count == 3, loads[1].displacement > 0, Set(loads.map(\.displacement)).count == 3 {
                connAsyncStatus = Int32(loads[1].displacement)
            }
        }
    }

    private mutating func decodeErrorField(_ c: UnsafeRawBufferPointer) {
        let accesses = X86MemoryAccess.scan(c, maxInstructions: 16)
        guard let head = accesses.first(where: { $0.isLoad && $0.rexW && $0.base == ForwardedCall.rdi && !$0.hasIndex }),
              head.displacement > 0 else { return }
        let list = head.reg
        let after = accesses.filter { $0.index > head.index && $0.base == list && !$0.hasIndex }
        // next: a 64-bit load of the list register from itself.
        guard let next = after.first(where: { $0.isLoad && $0.rexW && $0.reg == list }),
              // code: a byte read of the field (movsx/movzx r, m8; cmp m8, r8 / r8, m8; cmp m8, imm8).
              let code = after.first(where: { $0.isByteRead }) else { return }
        // contents: add $K,%list or lea K(%list),%rax.
        let adds = X86MemoryAccess.immediates(c, maxInstructions: 16).filter { $0.ext == 0 && $0.register == list && $0.index > code.index }
        let lea = after.first { $0.map == 0 && $0.opcode == 0x8D && $0.index > code.index }
        guard let contents = adds.first?.value ?? lea?.displacement, contents == code.displacement + 1 else { return }
        resultErrFields = Int32(head.displacement)
        fieldNext = Int32(next.displacement)
        fieldCode = Int32(code.displacement)
        fieldContents = Int32(contents)
    }

    /// The offsets as the BPF config holds them.
    public var config: ut_pg_offsets {
        ut_pg_offsets(result_status: resultStatus, result_err_fields: resultErrFields, field_next: fieldNext,
                      field_code: fieldCode, field_contents: fieldContents, conn_db_name: connDBName,
                      conn_async_status: connAsyncStatus, reserved: 0)
    }

    /// What the probes cannot read on this build, for the attach notes.
    public var notes: [String] {
        var out: [String] = []
        if resultStatus == 0 {
            out.append("--postgres: PQresultStatus does not show where PGresult keeps its status: spans carry no error status (uprobe_trace.db.result_unread)")
        } else if resultErrFields == 0 {
            out.append("--postgres: PQresultErrorField does not show PGresult's error fields: failed statements carry no SQLSTATE")
        }
        if connDBName == 0 { out.append("--postgres: PQdb does not show where PGconn keeps the database name: no db.namespace") }
        if connAsyncStatus == 0 {
            out.append("--postgres: PQtransactionStatus does not show PGconn's async state: a PQsend* refused while a statement runs may take that statement's results")
        }
        return out
    }
}

extension X86MemoryAccess {
    /// `mov m, r` (8B) into a register.
    var isLoad: Bool { map == 0 && opcode == 0x8B }
    /// Reads one byte of memory: movsx/movzx r, m8, cmp m8/r8, cmp m8, imm8.
    var isByteRead: Bool {
        (map == 1 && (opcode == 0xBE || opcode == 0xB6)) || (map == 0 && (opcode == 0x38 || opcode == 0x3A || opcode == 0x80 || opcode == 0x8A))
    }
}
