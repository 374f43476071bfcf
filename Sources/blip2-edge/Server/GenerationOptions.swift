import BLIP2Edge

/// The generation settings a request may give, with the CLI's meanings, and how they combine
/// with an endpoint's defaults.
///
/// Rules (the README's "Serving over HTTP" says the same):
/// - nothing given: the endpoint's defaults (LAVIS's beam search), except that a streamed
///   reply decodes greedily, since beam search only knows its text at the end;
/// - temperature 0: greedy; a positive temperature, top_k or top_p < 1: sampling with
///   `seed` (default 0, so a request repeats), and then beams must be 1.
struct GenerationOptions {
    var maxTokens: Int?
    var minTokens: Int?
    var beams: Int?
    var temperature: Float?
    var topK: Int?
    var topP: Float?
    var seed: UInt64?
    var lengthPenalty: Float?
    var repetitionPenalty: Float?
    var noRepeatNgram: Int?

    init(_ f: RequestFields, maxTokensNames: [String] = ["max_tokens"]) throws(HTTPError) {
        for name in maxTokensNames where maxTokens == nil { maxTokens = try f.int(name, in: 1...1024) }
        minTokens = try f.int("min_tokens", in: 0...1024)
        beams = try f.int("beams", in: 1...16)
        temperature = try f.float("temperature", "a number from 0 to 100", where: { $0 >= 0 && $0 <= 100 })
        topK = try f.int("top_k", in: 0...1_000_000)
        topP = try f.float("top_p", "a number in (0, 1]", where: { $0 > 0 && $0 <= 1 })
        seed = try f.int("seed", in: 0...Int.max).map { UInt64($0) }
        lengthPenalty = try f.float("length_penalty", "a finite number", where: { _ in true })
        repetitionPenalty = try f.float("repetition_penalty", "a positive number", where: { $0 > 0 })
        noRepeatNgram = try f.int("no_repeat_ngram", in: 0...64)
    }

    /// Temperature 0 means greedy whatever else is given.
    var samples: Bool { temperature != 0 && ((temperature ?? 0) > 0 || (topK ?? 0) > 0 || (topP ?? 1) < 1) }

    func parameters(defaults: GenerationParameters, streaming: Bool) throws(HTTPError) -> GenerationParameters {
        var p = defaults
        if let b = beams { p.beamCount = b }
        if temperature == 0 || (streaming && beams == nil) { p.beamCount = 1 }
        if let m = maxTokens { p.maxNewTokens = m }
        if let m = minTokens { p.minNewTokens = m }
        if p.minNewTokens > p.maxNewTokens {
            guard minTokens == nil else { throw .badRequest("min_tokens \(p.minNewTokens) is more than max_tokens \(p.maxNewTokens)") }
            p.minNewTokens = p.maxNewTokens
        }
        if let l = lengthPenalty { p.lengthPenalty = l }
        if let r = repetitionPenalty { p.repetitionPenalty = r }
        if let n = noRepeatNgram { p.noRepeatNgramSize = n }
        if samples {
            guard beams == nil || beams == 1 else { throw .badRequest("sampling (temperature, top_k, top_p) needs beams 1") }
            p.beamCount = 1
            let t = temperature ?? 1
            p.sampling = .init(temperature: t > 0 ? t : 1, topK: topK ?? 0, topP: topP ?? 1, seed: seed ?? 0)
        }
        if streaming && p.beamCount > 1 { throw .badRequest("a streamed reply needs greedy or sampled decoding (beams 1)") }
        return p
    }

    /// Prompts are at most 256 tokens (a session's bound); refusing longer text before
    /// tokenizing it keeps a 64 MiB question from costing seconds of CPU.
    static let maxTextBytes = 8192

    static func checkLength(_ text: String, _ what: String) throws(HTTPError) {
        guard text.utf8.count <= maxTextBytes else { throw .badRequest("the \(what) is longer than \(maxTextBytes) bytes") }
    }

    /// Keeps the reply within the model's context: the prompt (`prefixLength` positions:
    /// queries, BOS, prompt) and the new tokens. A max_tokens the client asked for that does
    /// not fit is refused at once (rather than failing when the context runs out); a default
    /// one is shortened.
    func fit(_ p: inout GenerationParameters, prefixLength: Int, context: Int) throws(HTTPError) {
        let room = context - prefixLength
        guard room >= 1 else { throw .badRequest("the prompt takes \(prefixLength) of the model's \(context) context positions: no room for a reply") }
        guard p.maxNewTokens > room else { return }
        if let m = maxTokens {
            throw .badRequest("max_tokens \(m) does not fit: the model's context is \(context) tokens and the image and prompt take \(prefixLength); at most \(room)")
        }
        p.maxNewTokens = room
        p.minNewTokens = min(p.minNewTokens, room)
    }
}
