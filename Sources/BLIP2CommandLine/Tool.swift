import BLIP2System
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A command-line mistake: the tool exits 2 with the message and a pointer to --help.
public struct UsageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One executable's name and help page, and the ways it ends: every error is one line on
/// stderr, exit status 1 for a failure, 2 for a usage error.
public struct Tool: Sendable {
    public let name: String
    public let usage: String

    /// The help page is written by hand; a debug build (the tests) stops at start-up if it
    /// leaves out a declared option.
    public init(name: String, usage: String, options: any ParsableArguments.Type...) {
        self.name = name
        self.usage = usage
        assert(options.allSatisfy { $0.undocumented(in: usage).isEmpty },
               "\(name)'s help page leaves out \(options.flatMap { $0.undocumented(in: usage) })")
    }

    public func fail(_ message: String, code: Int32) -> Never {
        StandardStreams.writeError("\(name): \(message)\n")
        exit(code)
    }

    /// On stdout when asked for, on stderr when it answers an empty command line.
    public func showUsage(exit code: Int32) -> Never {
        if code == 0 { print(usage) } else { StandardStreams.writeError(usage + "\n") }
        exit(code)
    }

    public func run(_ body: () throws -> Void) {
        do {
            try body()
        } catch let e as UsageError {
            fail("\(e) (see \(name) --help)", code: 2)
        } catch {
            fail("\(error)", code: 1)
        }
    }
}
