/// An image-text retrieval model file opened for use (transformers' Blip2ForImageTextRetrieval,
/// `blip2-itm-vit-g`): weights mapped, never copied; the BERT tokenizer and the image
/// preprocessing read from the file. Shareable between threads; each thread that runs it
/// makes its own `RetrievalSession`.
public final class RetrievalModel: Sendable {
    let file: ModelFile
    public let tokenizer: WordPieceTokenizer
    public let imageProcessor: ImageProcessor

    public var config: BLIP2Config { file.config }
    public var gguf: GGUFFile { file.gguf }
    /// The longest text, [CLS] and [SEP] included: the processor's limit or the positions the
    /// Q-Former has, whichever is smaller.
    public var maxTextTokens: Int { min(tokenizer.vocabulary.maxLength, config.qformer.maxPositionEmbeddings) }

    public init(path: String) throws {
        file = try ModelFile(path: path)
        guard file.weights.qformer.text != nil else {
            throw ModelFileError.wrongFamily(path: path, reason: "a captioning model: its Q-Former has no text side, so it cannot match images with text; use a retrieval model such as blip2-itm-vit-g")
        }
        tokenizer = WordPieceTokenizer(vocabulary: try WordPieceVocabulary(metadata: file.gguf.metadata, path: path))
        imageProcessor = ImageProcessor(file.config.image)
    }

    /// The token ids the model reads for `text`, or why it cannot.
    public func tokens(_ text: String) throws -> [Int] {
        guard !text.unicodeScalars.allSatisfy({ WordPieceTokenizer.isWhitespace($0) }) else {
            throw RuntimeError.invalidInput("the text is empty")
        }
        let ids = tokenizer.encode(text)
        guard ids.count <= maxTextTokens else {
            throw RuntimeError.invalidInput("the text is \(ids.count) tokens long; this model reads at most \(maxTextTokens) ([CLS] and [SEP] included)")
        }
        return ids
    }
}

/// An image as retrieval sees it: its ITC features (one unit vector per query) and, for ITM,
/// the vision tower's output.
public struct EncodedImage: Sendable {
    /// [queries, featureWidth], each row of unit length.
    public let features: [Float]
    public let queryCount: Int
    public var featureWidth: Int { features.count / max(queryCount, 1) }
    /// [vision tokens, vision hidden]: what the queries cross-attend to in ITM.
    let embeddings: [Float]

    /// ITC: the best cosine between any query's features and the text's.
    public func similarity(_ text: [Float]) -> Float {
        Self.similarity(features, queryCount: queryCount, text: text)
    }

    /// ITC of stored features [queries, width] with a text's: max over queries q of
    /// features[q] . text (both unit vectors: a cosine). -infinity when the sizes disagree.
    public static func similarity(_ features: [Float], queryCount: Int, text: [Float]) -> Float {
        let w = text.count
        guard queryCount > 0, features.count == queryCount * w else { return -.infinity }
        var best = -Float.infinity
        for q in 0..<queryCount {
            var dot: Float = 0
            for i in 0..<w { dot += features[q * w + i] * text[i] }
            best = max(best, dot)
        }
        return best
    }
}

/// Both scores of one image-text pair.
public struct MatchScore: Sendable, Equatable {
    /// ITC: cosine similarity of the features (-1...1; no temperature, as transformers).
    public var similarity: Float
    /// ITM: softmax of the matching head, the probability that the text fits the image.
    public var matchProbability: Float
}
