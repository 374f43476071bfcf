import BLIP2System

/// A model's working state for one thread: the towers' scratch buffers and a thread pool,
/// sized once. The weights are shared; make one session per thread that runs the model.
/// A session is not itself thread-safe, except `cancel()`, which any thread may call.
public final class Session: @unchecked Sendable {
    public let model: BLIP2Model
    let pool: ThreadPool
    let vision: VisionEncoder
    let qformer: QFormer
    /// OPT's decoder, or T5's; T5 also has an encoder, run once per prompt.
    let language: any TokenDecoder
    let encoder: T5Encoder?
    private let imageEmbeddings: Buffer
    private let projected: Buffer
    private let cancelled = CancellationFlag()
    /// Bound resident memory: release the vision tower's pages once an image is encoded (see
    /// `releaseVisionWeights`) and keep the KV cache in F16.
    public var lowRAM = false

    /// `maxPromptTokens` bounds the text after the image (BOS and prompt), `maxBeams` the
    /// beams of one search.
    public init(model: BLIP2Model, threads: Int = 0, maxPromptTokens: Int = 256, maxBeams: Int = 8) throws {
        let size = Sizes(config: model.config, maxPromptTokens: maxPromptTokens, maxBeams: maxBeams)
        // Sizes come from the file: refuse what the machine cannot hold rather than crash
        // in an allocation. The towers are measured by making them with a counting arena.
        let needed = Self.makeTowers(model, size, ScratchArena.counting()).bytes
        let available = SystemInfo.physicalMemory
        guard needed <= available else {
            throw RuntimeError.outOfMemory(what: "a session: the model's configuration needs \(needed >> 20) MiB of working memory, the machine has \(available >> 20) MiB")
        }
        self.model = model
        pool = try ThreadPool(threads: threads)
        let arena = ScratchArena.allocating()
        (vision, qformer, language, encoder, imageEmbeddings, projected) = Self.makeTowers(model, size, arena).towers
    }

    /// The most rows each tower runs at once.
    struct Sizes {
        /// OPT: queries, BOS and prompt, or the beams. T5's decoder: a start token and as many
        /// forced tokens as a prompt may have, or the beams.
        let decoderRows: Int
        /// T5's encoder: queries and prompt (with its `</s>`).
        let encoderRows: Int

        init(config c: BLIP2Config, maxPromptTokens: Int, maxBeams: Int) {
            if c.family == .t5 {
                decoderRows = max(1 + maxPromptTokens, maxBeams)
                encoderRows = c.queryTokenCount + maxPromptTokens + 1
            } else {
                decoderRows = max(c.queryTokenCount + 1 + maxPromptTokens, maxBeams)
                encoderRows = 0
            }
        }
    }

    /// The towers with their scratch, and the buffers between them (the KV cache comes per
    /// generation).
    private static func makeTowers(_ model: BLIP2Model, _ size: Sizes, _ arena: ScratchArena)
        -> (towers: (VisionEncoder, QFormer, any TokenDecoder, T5Encoder?, Buffer, Buffer), bytes: Int) {
        let c = model.config, w = model.file.weights
        let vision = VisionEncoder(w.vision, c.vision, arena)
        let qformer = QFormer(w.qformer, c, arena)
        let language: any TokenDecoder
        var encoder: T5Encoder?
        if let t5 = w.t5 {
            encoder = T5Encoder(t5.encoder, c.t5, maxRows: size.encoderRows, arena)
            language = T5Decoder(t5.decoder, c.t5, maxBatch: size.decoderRows, maxEncoderRows: size.encoderRows, arena)
        } else if let opt = w.language {
            language = LanguageModel(opt, c.text, maxBatch: size.decoderRows, arena)
        } else {
            preconditionFailure("BLIP2Model opens only files with a language model")
        }
        let between = (arena.buffer(vision.outputCount), arena.buffer(qformer.outputCount))
        return ((vision, qformer, language, encoder, between.0, between.1), arena.bytes)
    }

    public var threads: Int { pool.size }

    /// Stops a generation running on another thread at its next token.
    public func cancel() { cancelled.set(true) }

    /// Pixels [3, size, size], channel-planar and normalized, as the image processor makes them.
    var pixelCount: Int { 3 * model.config.vision.imageSize * model.config.vision.imageSize }

    /// The stages' outputs, for inspection and tests.
    struct Encoded {
        var imageEmbeddings: [Float]   // [vision tokens, vision hidden]
        var queryOutput: [Float]       // [queries, qformer hidden]
        var projected: [Float]         // [queries, text hidden]
    }

    /// Runs the vision tower, the Q-Former and the projection on one image's pixel values.
    @discardableResult
    func encode(pixels: [Float]) throws -> Encoded {
        var timings = StageTimings()
        try encode(pixels: pixels, timings: &timings)
        return Encoded(imageEmbeddings: Array(UnsafeBufferPointer(start: imageEmbeddings.const, count: vision.outputCount)),
                       queryOutput: qformer.lastHiddenState,
                       projected: Array(UnsafeBufferPointer(start: projected.const, count: qformer.outputCount)))
    }

    private func encode(pixels: [Float], timings: inout StageTimings) throws {
        guard pixels.count == pixelCount else {
            throw RuntimeError.invalidInput("expected \(pixelCount) pixel values (3 x \(model.config.vision.imageSize)^2), got \(pixels.count)")
        }
        var t = Generator.now()
        try pixels.withUnsafeBufferPointer { try vision.encode(pixels: $0.baseAddress!, into: imageEmbeddings.pointer, pool: pool) }
        timings.vision = Generator.now() - t
        if lowRAM { releaseVisionWeights() }
        t = Generator.now()
        try qformer.run(image: imageEmbeddings.const, into: projected.pointer, pool: pool)
        timings.qformer = Generator.now() - t
    }

    /// Tells the kernel the vision tower's weights will not be needed soon, so their pages
    /// leave the resident set before the language model's are read (they are file-backed:
    /// the next image reads them again from the page cache or disk).
    public func releaseVisionWeights() {
        guard let range = model.file.byteRange(of: .vision) else { return }
        model.file.gguf.file.release(range)
    }

    /// Runs the vision tower, the Q-Former and the projection once: the result captions and
    /// answers any number of times, on any session of the same model, from any thread.
    public func encode(image: RGBImage) throws -> ProjectedImage {
        let start = Generator.now()
        var timings = StageTimings()
        let pixels = model.imageProcessor.pixelValues(image)
        timings.preprocess = Generator.now() - start
        try encode(pixels: pixels, timings: &timings)
        return ProjectedImage(values: Array(UnsafeBufferPointer(start: projected.const, count: qformer.outputCount)),
                              timings: timings)
    }

    /// Captions an image (no prompt) or continues a prompt about it.
    public func generate(image: RGBImage, prompt: String? = nil, parameters: GenerationParameters,
                         onToken: ((Int) -> Bool)? = nil) throws -> GenerationResult {
        let start = Generator.now()
        var result = try generate(try encode(image: image), prompt: prompt, parameters: parameters, onToken: onToken)
        result.timings.total = Generator.now() - start
        return result
    }

    /// Captions an encoded image (no prompt) or continues a prompt about it. The timings are
    /// the encoding's and this generation's; `total` counts this call only.
    public func generate(_ image: ProjectedImage, prompt: String? = nil, parameters: GenerationParameters,
                         onToken: ((Int) -> Bool)? = nil) throws -> GenerationResult {
        let start = Generator.now()
        guard image.values.count == qformer.outputCount else {
            throw RuntimeError.invalidInput("the encoded image comes from a model of another size (\(image.values.count) values, this one makes \(qformer.outputCount))")
        }
        projected.pointer.update(from: image.values, count: image.values.count)
        var timings = image.timings
        let promptTokens = model.tokenizer.promptIds(prompt)
        let clock = Generator.Clock()
        let tokens = try generate(promptTokens: promptTokens, parameters: parameters, clock: clock, onToken: onToken)
        timings.prefill = clock.prefill
        timings.decodePerToken = clock.steps > 0 ? clock.decode / Double(clock.steps) : 0
        timings.total = Generator.now() - start
        let text = model.tokenizer.decode(tokens).trimmed()
        return GenerationResult(text: text, tokens: tokens, timings: timings)
    }

    /// Answers a question about an image.
    public func ask(image: RGBImage, question: String, style: BLIP2Model.PromptStyle = .shortAnswer,
                    parameters: GenerationParameters? = nil) throws -> GenerationResult {
        guard !question.trimmed().isEmpty else {
            throw RuntimeError.invalidInput("the question is empty")
        }
        return try ask(try encode(image: image), question: question, style: style, parameters: parameters)
    }

    /// Answers a question about an encoded image.
    public func ask(_ image: ProjectedImage, question: String, style: BLIP2Model.PromptStyle = .shortAnswer,
                    parameters: GenerationParameters? = nil,
                    onToken: ((Int) -> Bool)? = nil) throws -> GenerationResult {
        guard !question.trimmed().isEmpty else {
            throw RuntimeError.invalidInput("the question is empty")
        }
        return try generate(image, prompt: style.prompt(for: question), parameters: parameters ?? model.defaultQuestionParameters,
                            onToken: onToken)
    }

    /// The language model's input after an encoded image: [image token x queries, BOS,
    /// prompt...] as ids, and as embeddings with the projected queries in the image slots.
    /// For T5 this is the encoder's input ([queries, prompt..., </s>]; there is no BOS).
    func prefix(promptTokens: [Int]) -> (ids: [Int], embeddings: Buffer) {
        let c = model.config
        let d = c.languageHiddenSize
        let bos = c.family == .t5 ? [] : [c.text.bosTokenId]
        let ids = Array(repeating: c.imageTokenIndex, count: c.queryTokenCount) + bos + promptTokens
        let e = Buffer(ids.count * d)
        e.pointer.update(from: projected.const, count: c.queryTokenCount * d)
        for (i, id) in ids.enumerated().dropFirst(c.queryTokenCount) {
            language.embed(token: id, into: e.pointer + i * d)
        }
        return (ids, e)
    }

    /// The next-token logits [prefix length, vocab] at every position of the language model's
    /// input for an image followed by `tokens` (BOS is added before them): teacher-forced
    /// scoring of a caption, or the comparison of two quantizations of a model. For T5 the
    /// encoder reads the image alone (with `</s>`) and the logits are the decoder's, at its
    /// start token and at each of `tokens`.
    public func logits(image: RGBImage, following tokens: [Int]) throws -> [Float] {
        var timings = StageTimings()
        try encode(pixels: model.imageProcessor.pixelValues(image), timings: &timings)
        if model.config.family == .t5 {
            return try decoderLogits(promptTokens: model.tokenizer.promptIds(nil), decoderTokens: tokens)
        }
        return try prefixLogits(promptTokens: tokens)
    }

    /// Logits [prefix length, vocab] of every prefix position after `encode`.
    func prefixLogits(promptTokens: [Int]) throws -> [Float] {
        try checkPrompt(promptTokens)
        let (ids, e) = prefix(promptTokens: promptTokens)
        let cache = language.makeCache(capacity: ids.count, halfPrecision: false)
        var logits = [Float](repeating: 0, count: ids.count * language.vocabSize)
        try logits.withUnsafeMutableBufferPointer {
            try language.forward(e.const, count: ids.count, cache: cache, logits: $0.baseAddress!, allRows: true, pool: pool)
        }
        return logits
    }

    func checkPrompt(_ promptTokens: [Int]) throws {
        let room = encoder.map { $0.maxRows - model.config.queryTokenCount }
            ?? language.maxBatch - model.config.queryTokenCount - 1
        guard promptTokens.count <= room else {
            throw RuntimeError.invalidInput("the prompt has \(promptTokens.count) tokens; this session allows \(room)")
        }
        guard promptTokens.allSatisfy({ $0 >= 0 && $0 < language.vocabSize }) else {
            throw RuntimeError.invalidInput("a prompt token id is outside the vocabulary")
        }
    }

    /// Generates after the last encoded image. `promptTokens` are the prompt's ids as
    /// `TextTokenizer.promptIds` gives them (OPT: without BOS, which is added). Returns the
    /// new ids.
    public func generate(promptTokens: [Int], parameters: GenerationParameters, onToken: ((Int) -> Bool)? = nil) throws -> [Int] {
        try generate(promptTokens: promptTokens, parameters: parameters, clock: Generator.Clock(), onToken: onToken)
    }

    func generate(promptTokens: [Int], parameters: GenerationParameters, clock: Generator.Clock,
                  onToken: ((Int) -> Bool)?) throws -> [Int] {
        try checkPrompt(promptTokens)
        guard parameters.beamCount <= language.maxBatch else {
            throw RuntimeError.invalidInput("\(parameters.beamCount) beams; this session was made for at most \(language.maxBatch)")
        }
        cancelled.set(false)
        let t = Generator.now()
        let (ids, e) = try startDecoder(promptTokens: promptTokens)
        let encoding = Generator.now() - t
        let tokens = try makeGenerator(parameters).generate(prefix: e.const, prefixIds: ids, clock: clock, onToken: onToken)
        clock.prefill += encoding // T5's encoder pass is its prefill
        return tokens
    }
}

extension Session {
    func makeGenerator(_ parameters: GenerationParameters) -> Generator {
        Generator(model: language, pool: pool, parameters: parameters, eosTokens: model.config.generation.eosTokenIds,
                  halfPrecisionCache: lowRAM, isCancelled: { [cancelled] in cancelled.get() })
    }
}

/// A flag one thread sets and another reads.
final class CancellationFlag: @unchecked Sendable {
    private let lock = Lock()
    private var value = false
    func set(_ v: Bool) { lock.lock(); value = v; lock.unlock() }
    func get() -> Bool { lock.lock(); defer { lock.unlock() }; return value }
}
