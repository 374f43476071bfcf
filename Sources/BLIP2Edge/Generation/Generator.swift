import BLIP2System
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Decoding loops over the language model: greedy, sampling, and beam search, each with
/// transformers' semantics so that token ids match `generate` for the same settings.
struct Generator {
    let model: any TokenDecoder
    let pool: ThreadPool
    let parameters: GenerationParameters
    let eosTokens: [Int]
    /// Keys and values in F16 (half the memory; see `Session.lowRAM`).
    var halfPrecisionCache = false
    var isCancelled: () -> Bool = { false }

    /// Called with each new token id of greedy or sampled decoding; return false to stop.
    typealias TokenHandler = (Int) -> Bool

    /// Seconds spent on the prefix and on the tokens after it.
    final class Clock {
        var prefill = 0.0
        var decode = 0.0
        var steps = 0
    }

    /// Generates after a prefix of embeddings whose token ids are `prefixIds` (the ids
    /// transformers would hold as input_ids). Returns the new token ids, the end-of-sequence
    /// token included when one was generated.
    func generate(prefix: UnsafePointer<Float>, prefixIds: [Int], clock: Clock = Clock(), onToken: TokenHandler? = nil) throws -> [Int] {
        try parameters.validate()
        if parameters.beamCount > 1 {
            let tokens = try beamSearch(prefix: prefix, prefixIds: prefixIds, clock: clock)
            if let onToken { for t in tokens where !onToken(t) { break } }
            return tokens
        }
        return try sample(prefix: prefix, prefixIds: prefixIds, clock: clock, onToken: onToken)
    }

    func makeCache(capacity: Int) -> KVCache {
        model.makeCache(capacity: capacity, halfPrecision: halfPrecisionCache)
    }

    static func now() -> Double { BLIP2System.Clock.monotonicSeconds() }

    // MARK: - Greedy and sampling

    private func sample(prefix: UnsafePointer<Float>, prefixIds: [Int], clock: Clock, onToken: TokenHandler?) throws -> [Int] {
        let vocab = model.vocabSize, d = model.embeddingWidth
        let cache = makeCache(capacity: prefixIds.count + parameters.maxNewTokens)
        let logits = Buffer(vocab)
        let embedding = Buffer(d)
        let processor = LogitsProcessor(parameters: parameters, eosTokens: eosTokens, promptLength: prefixIds.count)
        var rng = SplitMix(seed: parameters.sampling?.seed ?? 0)
        var sequence = prefixIds
        sequence.reserveCapacity(prefixIds.count + parameters.maxNewTokens)
        var generated: [Int] = []
        let caches = [cache] // built once, not per token
        var t = Self.now()
        try model.forward(prefix, caches: caches, rowsPerCache: prefixIds.count, logits: logits.pointer, allRows: false, pool: pool)
        clock.prefill = Self.now() - t
        t = Self.now()
        defer { clock.decode = Self.now() - t }
        while generated.count < parameters.maxNewTokens {
            processor.apply(logits.pointer, vocab: vocab, sequence: sequence)
            let token = parameters.sampling.map { Self.draw(logits.pointer, vocab: vocab, $0, &rng) } ?? Self.argmax(logits.const, vocab)
            generated.append(token)
            sequence.append(token)
            if let onToken, !onToken(token) { break }
            if isCancelled() { throw RuntimeError.cancelled }
            if eosTokens.contains(token) || generated.count == parameters.maxNewTokens { break }
            model.embed(token: token, into: embedding.pointer)
            try model.forward(embedding.const, caches: caches, rowsPerCache: 1, logits: logits.pointer, allRows: false, pool: pool)
            clock.steps += 1
        }
        return generated
    }

    /// The first index of the largest value (torch.argmax's choice on ties).
    static func argmax(_ x: UnsafePointer<Float>, _ n: Int) -> Int {
        var best = 0
        for i in 1..<n where x[i] > x[best] { best = i }
        return best
    }

    /// transformers' warpers in order (temperature, top-k, top-p), then a draw.
    static func draw(_ scores: UnsafeMutablePointer<Float>, vocab: Int, _ s: GenerationParameters.Sampling, _ rng: inout SplitMix) -> Int {
        if s.temperature != 1 { for i in 0..<vocab { scores[i] /= s.temperature } }
        // Ranking the vocabulary is needed only for top-k and top-p.
        let truncating = (s.topK > 0 && s.topK < vocab) || s.topP < 1
        let order = truncating ? (0..<vocab).sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) } : []
        if s.topK > 0 && s.topK < vocab {
            let kth = scores[order[s.topK - 1]]
            for i in 0..<vocab where scores[i] < kth { scores[i] = -.infinity }
        }
        var maxScore = -Float.infinity
        for i in 0..<vocab { maxScore = max(maxScore, scores[i]) }
        var probs = [Double](repeating: 0, count: vocab)
        var total = 0.0
        for i in 0..<vocab {
            probs[i] = scores[i] == -.infinity ? 0 : exp(Double(scores[i] - maxScore))
            total += probs[i]
        }
        if s.topP < 1 {
            // Keep the most likely tokens until their mass reaches top_p (always at least one).
            var kept = 0.0
            var cut = vocab
            for (rank, i) in order.enumerated() {
                kept += probs[i] / total
                if kept >= Double(s.topP) { cut = rank + 1; break }
            }
            for i in order[cut...] { probs[i] = 0 }
            total = probs.reduce(0, +)
        }
        var u = rng.nextDouble() * total
        for i in 0..<vocab where probs[i] > 0 {
            u -= probs[i]
            if u <= 0 { return i }
        }
        return probs.lastIndex { $0 > 0 } ?? 0
    }
}

/// A small seeded generator, so sampled text repeats for a given seed on every platform.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
