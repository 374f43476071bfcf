/// A loaded model's working state for one thread: the towers' scratch buffers and a thread
/// pool. The model file (weights) is shared; create one session per concurrent user.
public final class Session {
    public let model: ModelFile
    let pool: ThreadPool
    let vision: VisionEncoder
    let qformer: QFormer
    let language: LanguageModel
    private let imageEmbeddings: Buffer
    private let projected: Buffer

    /// `maxPromptTokens` bounds the text after the image (BOS and prompt), `maxBeams` the
    /// beams of one search; scratch is sized from them once.
    public init(model: ModelFile, threads: Int = 0, maxPromptTokens: Int = 256, maxBeams: Int = 8) throws {
        self.model = model
        pool = try ThreadPool(threads: threads)
        vision = VisionEncoder(model)
        qformer = QFormer(model)
        let c = model.config
        language = LanguageModel(model, maxBatch: max(c.queryTokenCount + maxPromptTokens, maxBeams))
        imageEmbeddings = Buffer(vision.outputCount)
        projected = Buffer(qformer.outputCount)
    }

    /// Pixels [3, size, size], channel-planar and normalized, as the image processor makes them.
    public var pixelCount: Int { 3 * model.config.vision.imageSize * model.config.vision.imageSize }

    /// The stages' outputs, for inspection and tests.
    public struct Encoded {
        public var imageEmbeddings: [Float]   // [vision tokens, vision hidden]
        public var queryOutput: [Float]       // [queries, qformer hidden]
        public var projected: [Float]         // [queries, text hidden]
    }

    /// Runs the vision tower, the Q-Former and the projection on one image.
    @discardableResult
    public func encode(pixels: [Float]) throws -> Encoded {
        guard pixels.count == pixelCount else {
            throw RuntimeError.invalidInput("expected \(pixelCount) pixel values (3 x \(model.config.vision.imageSize)^2), got \(pixels.count)")
        }
        try pixels.withUnsafeBufferPointer { try vision.encode(pixels: $0.baseAddress!, into: imageEmbeddings.pointer, pool: pool) }
        var queries = [Float](repeating: 0, count: model.config.queryTokenCount * model.config.qformer.hiddenSize)
        try queries.withUnsafeMutableBufferPointer {
            try qformer.run(image: imageEmbeddings.const, into: projected.pointer, queryOutput: $0.baseAddress!, pool: pool)
        }
        return Encoded(imageEmbeddings: Array(UnsafeBufferPointer(start: imageEmbeddings.const, count: vision.outputCount)),
                       queryOutput: queries,
                       projected: Array(UnsafeBufferPointer(start: projected.const, count: qformer.outputCount)))
    }

    /// The language model's input after an encoded image: [image token x queries, BOS,
    /// prompt...] as ids, and as embeddings with the projected queries in the image slots.
    func prefix(promptTokens: [Int]) -> (ids: [Int], embeddings: Buffer) {
        let c = model.config
        let d = c.text.hiddenSize
        let ids = Array(repeating: c.imageTokenIndex, count: c.queryTokenCount) + [c.text.bosTokenId] + promptTokens
        let e = Buffer(ids.count * d)
        e.pointer.update(from: projected.const, count: c.queryTokenCount * d)
        for (i, id) in ids.enumerated().dropFirst(c.queryTokenCount) {
            language.embed(token: id, into: e.pointer + i * d)
        }
        return (ids, e)
    }

    /// Logits [prefix length, vocab] of every prefix position after `encode`, for tests.
    public func prefixLogits(promptTokens: [Int]) throws -> [Float] {
        let (ids, e) = prefix(promptTokens: promptTokens)
        let cache = language.makeCache(capacity: ids.count)
        var logits = [Float](repeating: 0, count: ids.count * language.vocabSize)
        try logits.withUnsafeMutableBufferPointer {
            try language.forward(e.const, count: ids.count, cache: cache, logits: $0.baseAddress!, allRows: true, pool: pool)
        }
        return logits
    }

    /// Generates after the last encoded image. `promptTokens` are the prompt's ids without
    /// BOS (which is added, as the tokenizer does). Returns the new ids.
    public func generate(promptTokens: [Int], parameters: GenerationParameters,
                         onToken: ((Int) -> Bool)? = nil) throws -> [Int] {
        guard promptTokens.count + model.config.queryTokenCount + 1 <= language.maxBatch else {
            throw RuntimeError.invalidInput("the prompt has \(promptTokens.count) tokens; this session allows \(language.maxBatch - model.config.queryTokenCount - 1)")
        }
        guard promptTokens.allSatisfy({ $0 >= 0 && $0 < language.vocabSize }) else {
            throw RuntimeError.invalidInput("a prompt token id is outside the vocabulary")
        }
        let (ids, e) = prefix(promptTokens: promptTokens)
        let generator = Generator(model: language, pool: pool, parameters: parameters, eosTokens: model.config.generation.eosTokenIds)
        return try generator.generate(prefix: e.const, prefixIds: ids, onToken: onToken)
    }
}
