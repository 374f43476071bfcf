/// How text is generated: transformers' `generate` settings, with its semantics.
public struct GenerationParameters: Sendable, Equatable {
    /// Tokens to generate at most (transformers' `max_new_tokens`).
    public var maxNewTokens = 30
    /// End-of-sequence tokens are suppressed until this many are generated.
    public var minNewTokens = 0
    /// 1: greedy (or sampling); more: beam search.
    public var beamCount = 1
    /// Beam scores are divided by length^lengthPenalty.
    public var lengthPenalty: Float = 1
    /// Stop beam search as soon as `beamCount` hypotheses are finished.
    public var earlyStopping = false
    /// CTRL's penalty on tokens already in the sequence (prompt included); 1 is none.
    public var repetitionPenalty: Float = 1
    /// No n-gram of this size occurs twice (0: off).
    public var noRepeatNgramSize = 0
    /// Sampling instead of the most likely token; nil for deterministic decoding.
    public var sampling: Sampling?

    public struct Sampling: Sendable, Equatable {
        public var temperature: Float = 1
        /// Keep only the k most likely tokens (0: all).
        public var topK = 0
        /// Keep the smallest set of tokens whose probability reaches p (1: all).
        public var topP: Float = 1
        public var seed: UInt64 = 0

        public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
            self.temperature = temperature
            self.topK = topK
            self.topP = topP
            self.seed = seed
        }
    }

    public init() {}

    /// Greedy decoding of up to `maxNewTokens` tokens.
    public static func greedy(maxNewTokens: Int = 30) -> GenerationParameters {
        var p = GenerationParameters()
        p.maxNewTokens = maxNewTokens
        return p
    }

    /// Checks values a user can supply.
    public func validate() throws(RuntimeError) {
        func check(_ ok: Bool, _ message: String) throws(RuntimeError) { if !ok { throw .invalidInput(message) } }
        try check(maxNewTokens >= 1, "the number of new tokens must be at least 1")
        try check(minNewTokens >= 0 && minNewTokens <= maxNewTokens, "min new tokens must lie between 0 and max new tokens")
        try check(beamCount >= 1 && beamCount <= 64, "the number of beams must be from 1 to 64")
        try check(lengthPenalty.isFinite, "the length penalty must be a finite number")
        try check(repetitionPenalty > 0 && repetitionPenalty.isFinite, "the repetition penalty must be positive")
        try check(noRepeatNgramSize >= 0, "the no-repeat n-gram size must not be negative")
        if let s = sampling {
            try check(s.temperature > 0 && s.temperature.isFinite, "the temperature must be positive")
            try check(s.topK >= 0, "top-k must not be negative")
            try check(s.topP > 0 && s.topP <= 1, "top-p must lie in (0, 1]")
        }
    }
}
