import BLIP2System
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A retrieval model's working state for one thread: the towers' scratch and a thread pool.
/// Encode an image once, then score it against any number of texts.
public final class RetrievalSession: @unchecked Sendable {
    public let model: RetrievalModel
    let pool: ThreadPool
    let vision: VisionEncoder
    let qformer: QFormer
    private let imageEmbeddings: Buffer

    public init(model: RetrievalModel, threads: Int = 0) throws {
        let needed = Self.makeTowers(model, ScratchArena.counting()).bytes
        let available = SystemInfo.physicalMemory
        guard needed <= available else {
            throw RuntimeError.outOfMemory(what: "a session: the model's configuration needs \(needed >> 20) MiB of working memory, the machine has \(available >> 20) MiB")
        }
        self.model = model
        pool = try ThreadPool(threads: threads)
        (vision, qformer, imageEmbeddings) = Self.makeTowers(model, ScratchArena.allocating()).towers
    }

    private static func makeTowers(_ model: RetrievalModel, _ arena: ScratchArena)
        -> (towers: (VisionEncoder, QFormer, Buffer), bytes: Int) {
        let c = model.config, w = model.file.weights
        let vision = VisionEncoder(w.vision, c.vision, arena)
        let qformer = QFormer(w.qformer, c, maxTextTokens: model.maxTextTokens, arena)
        return ((vision, qformer, arena.buffer(vision.outputCount)), arena.bytes)
    }

    public var threads: Int { pool.size }

    /// Runs the vision tower and the queries on an image.
    public func encode(image: RGBImage) throws -> EncodedImage {
        try encode(pixels: model.imageProcessor.pixelValues(image))
    }

    func encode(pixels: [Float]) throws -> EncodedImage {
        let c = model.config, expected = 3 * c.vision.imageSize * c.vision.imageSize
        guard pixels.count == expected else {
            throw RuntimeError.invalidInput("expected \(expected) pixel values, got \(pixels.count)")
        }
        try pixels.withUnsafeBufferPointer { try vision.encode(pixels: $0.baseAddress!, into: imageEmbeddings.pointer, pool: pool) }
        var features = [Float](repeating: 0, count: c.queryTokenCount * c.imageTextHiddenSize)
        try features.withUnsafeMutableBufferPointer {
            try qformer.imageFeatures(image: imageEmbeddings.const, into: $0.baseAddress!, pool: pool)
        }
        return EncodedImage(features: features, queryCount: c.queryTokenCount,
                            embeddings: Array(UnsafeBufferPointer(start: imageEmbeddings.const, count: vision.outputCount)))
    }

    /// The text's ITC features: a unit vector of `image_text_hidden_size`.
    public func features(text: String) throws -> [Float] {
        try features(tokens: try model.tokens(text))
    }

    func features(tokens: [Int]) throws -> [Float] {
        var out = [Float](repeating: 0, count: model.config.imageTextHiddenSize)
        try out.withUnsafeMutableBufferPointer { try qformer.textFeatures(tokens: tokens, into: $0.baseAddress!, pool: pool) }
        return out
    }

    /// ITM: the probability that `text` fits the image.
    public func matchProbability(_ image: EncodedImage, text: String) throws -> Float {
        let l = try matchLogits(image, tokens: try model.tokens(text))
        return 1 / (1 + (l.0 - l.1).exp())
    }

    func matchLogits(_ image: EncodedImage, tokens: [Int]) throws -> (Float, Float) {
        guard image.embeddings.count == vision.outputCount else {
            throw RuntimeError.invalidInput("the encoded image comes from a model of another size")
        }
        return try image.embeddings.withUnsafeBufferPointer {
            try qformer.matchLogits(tokens: tokens, image: $0.baseAddress!, pool: pool)
        }
    }

    /// Both scores of the image and `text`.
    public func match(_ image: EncodedImage, text: String) throws -> MatchScore {
        let tokens = try model.tokens(text)
        let l = try matchLogits(image, tokens: tokens)
        return MatchScore(similarity: image.similarity(try features(tokens: tokens)), matchProbability: 1 / (1 + (l.0 - l.1).exp()))
    }
}

private extension Float {
    func exp() -> Float { expf(self) }
}
