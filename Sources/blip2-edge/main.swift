import BLIP2CommandLine

let tool = Tool(name: "blip2-edge", usage: usage, options: Options.self)
installBusErrorHandler()

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else { tool.showUsage(exit: 2) }
if command == "-h" || command == "--help" || command == "help" { tool.showUsage(exit: 0) }

tool.run {
    let options = try Options(parsing: Array(arguments.dropFirst()))
    if options.help { tool.showUsage(exit: 0) }
    switch command {
    case "caption": try Commands.caption(options)
    case "ask": try Commands.ask(options)
    case "info": try Commands.info(options)
    case "tokenize": try Commands.tokenize(options)
    case "preprocess": try Commands.preprocess(options)
    case "match": try RetrievalCommands.match(options)
    case "embed": try RetrievalCommands.embed(options)
    case "search": try RetrievalCommands.search(options)
    default: throw UsageError("unknown command \(command) (caption, ask, match, embed, search, info, tokenize, preprocess)")
    }
}
