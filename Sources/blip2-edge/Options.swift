import BLIP2Edge

/// A command-line mistake: exit code 2, with the message and a pointer to --help.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The parsed command line: positional arguments and the options every command shares.
struct Options {
    var positional: [String] = []
    var model: String?
    var prompt: String?
    var promptStyle = BLIP2Model.PromptStyle.shortAnswer
    var greedy = false
    var beams: Int?
    var maxTokens: Int?
    var minTokens: Int?
    var lengthPenalty: Float?
    var repetitionPenalty: Float?
    var noRepeatNgram: Int?
    var temperature: Float?
    var topK: Int?
    var topP: Float?
    var seed: UInt64?
    var threads = 0
    var stats = false
    var json = false
    var lowRAM = false
    var quiet = false
    var decode = false
    var out: String?
    var help = false

    init(_ args: [String]) throws {
        var i = 0
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < args.count else { throw UsageError("\(flag) needs a value") }
            return args[i]
        }
        func int(_ flag: String, _ range: ClosedRange<Int>) throws -> Int {
            let v = try value(flag)
            guard let n = Int(v), range.contains(n) else { throw UsageError("\(flag) wants a whole number from \(range.lowerBound) to \(range.upperBound), got \(v)") }
            return n
        }
        func float(_ flag: String, _ ok: (Float) -> Bool, _ what: String) throws -> Float {
            let v = try value(flag)
            guard let f = Float(v), f.isFinite, ok(f) else { throw UsageError("\(flag) wants \(what), got \(v)") }
            return f
        }
        var onlyPositional = false
        while i < args.count {
            let a = args[i]
            if onlyPositional || !a.hasPrefix("-") || a == "-" || (decode && Int(a) != nil) {
                positional.append(a)
                i += 1
                continue
            }
            switch a {
            case "--": onlyPositional = true
            case "--model", "-m": model = try value(a)
            case "--prompt": prompt = try value(a)
            case "--prompt-style":
                let v = try value(a)
                guard let s = BLIP2Model.PromptStyle(rawValue: v) else { throw UsageError("--prompt-style is \"short\" or \"answer\", got \(v)") }
                promptStyle = s
            case "--greedy": greedy = true
            case "--beams": beams = try int(a, 1...16)
            case "--max-tokens": maxTokens = try int(a, 1...1024)
            case "--min-tokens": minTokens = try int(a, 0...1024)
            case "--length-penalty": lengthPenalty = try float(a, { _ in true }, "a number")
            case "--repetition-penalty": repetitionPenalty = try float(a, { $0 > 0 }, "a positive number")
            case "--no-repeat-ngram": noRepeatNgram = try int(a, 0...64)
            case "--temperature": temperature = try float(a, { $0 > 0 }, "a positive number")
            case "--top-k": topK = try int(a, 0...1_000_000)
            case "--top-p": topP = try float(a, { $0 > 0 && $0 <= 1 }, "a number in (0, 1]")
            case "--seed":
                let v = try value(a)
                guard let s = UInt64(v) else { throw UsageError("--seed wants a non-negative whole number, got \(v)") }
                seed = s
            case "--threads", "-t": threads = try int(a, 1...1024)
            case "--stats": stats = true
            case "--json": json = true
            case "--low-ram": lowRAM = true
            case "--quiet", "-q": quiet = true
            case "--decode": decode = true
            case "--out", "-o": out = try value(a)
            case "--help", "-h": help = true
            default: throw UsageError("unknown option \(a)")
            }
            i += 1
        }
    }

    /// Generation settings: the command's defaults, then what the user asked for.
    func parameters(defaults: GenerationParameters) throws -> GenerationParameters {
        var p = defaults
        if greedy { p.beamCount = 1 }
        if let b = beams { p.beamCount = b }
        if let m = maxTokens { p.maxNewTokens = m }
        if let m = minTokens { p.minNewTokens = m }
        if p.minNewTokens > p.maxNewTokens {
            guard minTokens == nil else { throw UsageError("--min-tokens \(p.minNewTokens) is more than --max-tokens \(p.maxNewTokens)") }
            p.minNewTokens = p.maxNewTokens
        }
        if let l = lengthPenalty { p.lengthPenalty = l }
        if let r = repetitionPenalty { p.repetitionPenalty = r }
        if let n = noRepeatNgram { p.noRepeatNgramSize = n }
        if temperature != nil || topK != nil || topP != nil || seed != nil {
            guard p.beamCount == 1 else { throw UsageError("sampling (--temperature/--top-k/--top-p/--seed) needs --greedy or --beams 1") }
            p.sampling = .init(temperature: temperature ?? 1, topK: topK ?? 0, topP: topP ?? 1, seed: seed ?? 0)
        }
        return p
    }
}
