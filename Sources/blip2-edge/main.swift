import BLIP2Edge
import Foundation

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("blip2-edge: \(message)\n".utf8))
    exit(code)
}

installBusErrorHandler()

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
if command == "-h" || command == "--help" || command == "help" {
    print(usage)
    exit(0)
}

do {
    let options = try Options(Array(arguments.dropFirst()))
    if options.help {
        print(usage)
        exit(0)
    }
    switch command {
    case "caption": try Commands.caption(options)
    case "ask": try Commands.ask(options)
    case "info": try Commands.info(options)
    case "tokenize": try Commands.tokenize(options)
    case "preprocess": try Commands.preprocess(options)
    default: throw UsageError("unknown command \(command) (caption, ask, info, tokenize, preprocess)")
    }
} catch let e as UsageError {
    fail("\(e.description) (see blip2-edge --help)", code: 2)
} catch {
    fail("\(error)", code: 1)
}
