import BLIP2CommandLine
import BLIP2Edge

/// The command line of every command: they share one set of options.
struct Options: ParsableArguments {
    var positional: [String] = []
    @Option("--model", "-m", as: .text) var model: String?
    @Option("--prompt", as: .text) var prompt: String?
    @Option("--prompt-style", as: .oneOf("short or answer") { BLIP2Model.PromptStyle(rawValue: $0) })
    var promptStyle = BLIP2Model.PromptStyle.shortAnswer
    @Flag("--greedy") var greedy: Bool
    @Option("--beams", as: .int(1...16)) var beams: Int?
    @Option("--max-tokens", as: .int(1...1024)) var maxTokens: Int?
    @Option("--min-tokens", as: .int(0...1024)) var minTokens: Int?
    @Option("--length-penalty", as: .float()) var lengthPenalty: Float?
    @Option("--repetition-penalty", as: .float("a positive number") { $0 > 0 }) var repetitionPenalty: Float?
    @Option("--no-repeat-ngram", as: .int(0...64)) var noRepeatNgram: Int?
    @Option("--temperature", as: .float("a positive number") { $0 > 0 }) var temperature: Float?
    @Option("--top-k", as: .int(0...1_000_000)) var topK: Int?
    @Option("--top-p", as: .float("a number in (0, 1]") { $0 > 0 && $0 <= 1 }) var topP: Float?
    @Option("--seed", as: .wants("a non-negative whole number") { UInt64($0) }) var seed: UInt64?
    @Option("--threads", "-t", as: .int(1...1024)) var threads = 0
    @Flag("--stats") var stats: Bool
    @Flag("--json") var json: Bool
    @Flag("--low-ram") var lowRAM: Bool
    @Flag("--exif-orientation") var exifOrientation: Bool
    @Flag("--quiet", "-q") var quiet: Bool
    @Flag("--decode") var decode: Bool
    @Option("--out", "-o", as: .text) var out: String?
    @Flag("--text") var text: Bool
    @Option("--top", as: .int(1...1_000_000)) var top: Int?
    @Option("--rerank", as: .int(0...1_000_000)) var rerank: Int?
    @Option("--index", as: .text) var index: String?
    @Flag("--no-index") var noIndex: Bool
    @Option("--host", as: .text) var host: String?
    @Option("--port", as: .int(0...65535)) var port: Int?
    @Option("--sessions", as: .int(1...256)) var sessions: Int?
    @Option("--queue", as: .int(0...100_000)) var queue: Int?
    @Option("--api-key", as: .text) var apiKey: String?
    @Option("--max-connections", as: .int(1...10_000)) var maxConnections: Int?
    @Option("--read-timeout", as: .int(1...3600)) var readTimeout: Int?
    @Option("--idle-timeout", as: .int(1...3600)) var idleTimeout: Int?
    @Flag("--help", "-h") var help: Bool

    /// Token ids to decode may be negative, to be refused as ids rather than as options.
    func isPositional(_ argument: String) -> Bool { decode && Int(argument) != nil }

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
