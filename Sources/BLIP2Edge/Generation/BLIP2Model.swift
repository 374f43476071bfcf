/// A BLIP-2 model file opened for use: weights mapped (never copied), configuration,
/// tokenizer and image preprocessing read from the file. Thread-safe and shareable: each
/// thread that runs the model makes its own `Session`.
public final class BLIP2Model: Sendable {
    let file: ModelFile
    /// OPT's byte-level BPE, or FlanT5's Unigram.
    public let tokenizer: any TextTokenizer
    public let imageProcessor: ImageProcessor

    public var config: BLIP2Config { file.config }
    /// The kernels' instruction-set variant in this process: "avx512_vnni", "avx2", "neon_i8mm",
    /// "neondot", "neon" or "ref" (the best the CPU runs, unless BLIP2_KERNELS asks for a lower
    /// one).
    public static var kernelVariant: String { Kernels.variant }

    /// The container: metadata, tensor table, the mapping.
    public var gguf: GGUFFile { file.gguf }

    public init(path: String) throws {
        file = try ModelFile(path: path)
        let metadata = file.gguf.metadata
        switch file.config.family {
        case .opt:
            tokenizer = try Tokenizer(vocabulary: TokenizerVocabulary(metadata: metadata, path: path))
        case .t5:
            tokenizer = UnigramTokenizer(vocabulary: try UnigramVocabulary(metadata: metadata, path: path))
        case .retrieval:
            throw ModelFileError.wrongFamily(path: path, reason: "an image-text retrieval model: it matches and searches images (blip2-edge match, embed, search) but has no language model to caption or answer with")
        }
        imageProcessor = ImageProcessor(file.config.image)
    }

    /// What the model's family uses when the caller gives no settings: LAVIS's, as
    /// `captionDefaults` and `questionDefaults` (OPT) and `t5CaptionDefaults` and
    /// `t5QuestionDefaults` (FlanT5) say.
    public var defaultCaptionParameters: GenerationParameters {
        config.family == .t5 ? Self.t5CaptionDefaults : Self.captionDefaults
    }

    public var defaultQuestionParameters: GenerationParameters {
        config.family == .t5 ? Self.t5QuestionDefaults : Self.questionDefaults
    }

    /// How a question becomes a prompt. LAVIS evaluates VQAv2 zero-shot with "Short answer:";
    /// its README demo (and transformers' docs) use "Answer:".
    public enum PromptStyle: String, Sendable, CaseIterable {
        case shortAnswer = "short"
        case answer

        public func prompt(for question: String) -> String {
            switch self {
            case .shortAnswer: "Question: \(question) Short answer:"
            case .answer: "Question: \(question) Answer:"
            }
        }
    }

    /// Tokens the model reads for an image and a prompt (nil: a caption): OPT's queries, BOS and
    /// prompt; T5's encoder input, queries and prompt with its `</s>`.
    public func inputTokenCount(prompt: String?) -> Int {
        config.queryTokenCount + (config.family == .t5 ? 0 : 1) + tokenizer.promptIds(prompt).count
    }

    /// What a generation's length must fit in: the tokens already in the sequence the new ones
    /// join, and the most that sequence may hold (OPT's learned positions; T5's decoder, with
    /// relative positions, starts from one token and has no such limit).
    public func sequenceBudget(prompt: String?) -> (prefixLength: Int, context: Int) {
        config.family == .t5 ? (1, Int(Int32.max)) : (inputTokenCount(prompt: prompt), config.text.maxPositionEmbeddings)
    }

    /// LAVIS's COCO captioning settings: 5 beams, 8 to 30 new tokens.
    public static var captionDefaults: GenerationParameters {
        var p = GenerationParameters()
        p.beamCount = 5
        p.maxNewTokens = 30
        p.minNewTokens = 8
        return p
    }

    /// LAVIS's FlanT5 COCO captioning settings: 5 beams, at most 30 new tokens, min_length 8,
    /// which transformers counts with the decoder's start token (so 7 new tokens).
    public static var t5CaptionDefaults: GenerationParameters {
        var p = captionDefaults
        p.minNewTokens = 7
        return p
    }

    /// LAVIS's FlanT5 VQAv2 zero-shot settings: 5 beams, at most 10 new tokens, min_length 1
    /// (met by the start token), length penalty -1.
    public static var t5QuestionDefaults: GenerationParameters {
        var p = questionDefaults
        p.minNewTokens = 0
        p.lengthPenalty = -1
        return p
    }

    /// LAVIS's VQAv2 zero-shot settings: 5 beams, at most 10 new tokens, length penalty 0.
    public static var questionDefaults: GenerationParameters {
        var p = GenerationParameters()
        p.beamCount = 5
        p.maxNewTokens = 10
        p.minNewTokens = 1
        p.lengthPenalty = 0
        return p
    }
}

/// An image encoded for the language model: the Q-Former's queries projected to its width
/// ([queries, text hidden]). A value: keep it, share it between threads and sessions of the
/// same model, caption and ask about it without running the vision tower again.
public struct ProjectedImage: Sendable {
    public let values: [Float]
    /// What encoding it cost (preprocess, vision, qformer).
    public let timings: StageTimings
}

/// The outcome of one caption or answer.
public struct GenerationResult: Sendable {
    /// Decoded and stripped of surrounding whitespace, as transformers' batch_decode + strip.
    public var text: String
    /// The new token ids, end-of-sequence token included when one was generated.
    public var tokens: [Int]
    public var timings: StageTimings
}

/// Where the time went, in seconds (decode: per generated token).
public struct StageTimings: Sendable, Codable {
    public var preprocess = 0.0
    public var vision = 0.0
    public var qformer = 0.0
    public var prefill = 0.0
    public var decodePerToken = 0.0
    public var total = 0.0
}
