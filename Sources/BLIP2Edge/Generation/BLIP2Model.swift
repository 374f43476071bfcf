import Foundation

/// A BLIP-2 model file opened for use: weights mapped (never copied), configuration,
/// tokenizer and image preprocessing read from the file. Thread-safe and shareable: each
/// thread that runs the model makes its own `Session`.
public final class BLIP2Model: Sendable {
    let file: ModelFile
    public let tokenizer: Tokenizer
    public let imageProcessor: ImageProcessor

    public var config: BLIP2Config { file.config }
    /// The kernels' instruction-set variant in this process: "avx512_vnni", "avx2", "neon_i8mm",
    /// "neondot", "neon" or "ref" (the best the CPU runs, unless BLIP2_KERNELS asks for a lower
    /// one).
    public static var kernelVariant: String { Kernels.variant }

    /// The container: metadata, tensor table, the mapping.
    public var gguf: GGUFFile { file.gguf }

    /// The language model's weights, which `init` made sure the file has.
    var languageWeights: LanguageModel.Weights {
        guard let w = file.weights.language else { preconditionFailure("BLIP2Model opened a file without a language model") }
        return w
    }

    public init(path: String) throws {
        file = try ModelFile(path: path)
        guard file.weights.language != nil else {
            throw ModelFileError.wrongFamily(path: path, reason: "an image-text retrieval model: it matches and searches images (blip2-edge match, embed, search) but has no language model to caption or answer with")
        }
        tokenizer = try Tokenizer(vocabulary: TokenizerVocabulary(metadata: file.gguf.metadata, path: path))
        imageProcessor = ImageProcessor(file.config.image)
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

    /// LAVIS's COCO captioning settings: 5 beams, 8 to 30 new tokens.
    public static var captionDefaults: GenerationParameters {
        var p = GenerationParameters()
        p.beamCount = 5
        p.maxNewTokens = 30
        p.minNewTokens = 8
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
