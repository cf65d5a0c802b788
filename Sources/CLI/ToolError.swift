import Attach
import GoRuntime
import Families
import Symbols

/// An error `main` reports as one line on stderr and an exit code: 1 unless
/// the error says otherwise (77 for missing privilege, 2 for usage errors).
protocol ToolError: Error, CustomStringConvertible {
    var exitCode: Int32 { get }
}

extension ToolError {
    var exitCode: Int32 { 1 }
}

/// Errors that belong to the command line itself.
struct CLIError: ToolError {
    var description: String
    var exitCode: Int32 = 1
}

extension SymbolsError: ToolError {}
extension GoRuntimeError: ToolError {}
extension AttachError: ToolError {}
extension FamilyError: ToolError {}
