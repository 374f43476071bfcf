import BLIP2CommandLine
import BLIP2Edge
import BLIP2System

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum Commands {
    static func caption(_ o: Options) throws {
        guard !o.positional.isEmpty else { throw UsageError("caption needs at least one image") }
        if let p = o.prompt, p.trimmed().isEmpty {
            throw UsageError("--prompt is empty")
        }
        try run(o, images: o.positional, prompts: [o.prompt]) { try o.parameters(defaults: $0.defaultCaptionParameters) }
    }

    /// One image, any number of questions: the image is encoded once.
    static func ask(_ o: Options) throws {
        guard o.positional.count >= 2 else { throw UsageError("ask needs an image and a question") }
        let questions = Array(o.positional.dropFirst())
        guard questions.allSatisfy({ !$0.trimmed().isEmpty }) else {
            throw UsageError("the question is empty")
        }
        try run(o, images: [o.positional[0]], prompts: questions.map { o.promptStyle.prompt(for: $0) }) {
            try o.parameters(defaults: $0.defaultQuestionParameters)
        }
    }

    /// Loads the model once, then encodes each image in turn and generates once per prompt
    /// (nil: a caption) from the encoded image. The settings start from the model family's
    /// defaults, so they are made once the model is known.
    static func run(_ o: Options, images: [String], prompts: [String?],
                    parameters makeParameters: (BLIP2Model) throws -> GenerationParameters) throws {
        if images.filter({ $0 == "-" }).count > 1 { throw UsageError("standard input (-) can be read only once") }
        let progress = Progress(enabled: !o.quiet && isatty(STDERR_FILENO) == 1)
        var t = now()
        progress.show("loading model")
        let path = try ModelLocation.resolve(o.model)
        let model = try BLIP2Model(path: path)
        let parameters = try makeParameters(model)
        let session = try Session(model: model, threads: o.threads)
        session.lowRAM = o.lowRAM
        let load = now() - t
        for image in images {
            t = now()
            progress.show("reading \(image)")
            let rgb = try ImageInput.read(image, exifOrientation: o.exifOrientation)
            progress.show("encoding \(image)")
            let encoded = try session.encode(image: rgb)
            for prompt in prompts {
                progress.show(prompt == nil ? "captioning \(image)" : "answering")
                var result = try session.generate(encoded, prompt: prompt, parameters: parameters)
                progress.clear()
                result.timings.total = now() - t
                let stats = Stats(load: load, timings: result.timings, tokens: result.tokens.count, threads: session.threads,
                                  mappedBytes: model.gguf.size)
                if o.json {
                    try JSONOutput.print(image: image, result: result, stats: stats)
                } else {
                    print(result.text)
                }
                if o.stats { stats.report() }
                fflush(nil)
                t = now()
            }
        }
    }

    static func info(_ o: Options) throws {
        guard o.positional.count == 1 else { throw UsageError("info takes one model file") }
        let path = o.positional[0]
        let f = try GGUFFile(path: path)
        let family = try BLIP2Config(metadata: f.metadata, path: path).family
        // Opening the model checks every tensor and the tokenizer, as a run would.
        let (c, tokenizer): (BLIP2Config, String)
        switch family {
        case .opt, .t5:
            let model = try BLIP2Model(path: path)
            c = model.config
            tokenizer = "\(model.tokenizer.summary), <image> = \(c.imageTokenIndex), end = \(c.generation.eosTokenIds)"
        case .retrieval:
            let model = try RetrievalModel(path: path)
            c = model.config
            let v = model.tokenizer.vocabulary
            tokenizer = "WordPiece, \(v.tokens.count) tokens, \(v.lowerCase ? "lower-cased" : "cased"), at most \(model.maxTextTokens) tokens per text"
        }
        var bytes: [String: Int] = [:]
        for t in f.tensors { bytes[t.type.description, default: 0] += t.byteCount }
        let params = f.tensors.reduce(0) { $0 + $1.elementCount }
        let data = f.tensors.reduce(0) { $0 + $1.byteCount }
        let kind = switch family {
        case .opt: "BLIP-2 with OPT (captioning, questions)"
        case .t5: "BLIP-2 with FlanT5 (captioning, questions)"
        case .retrieval: "BLIP-2 image-text retrieval (match, embed, search)"
        }
        print("\(f.path): \(kind) (\(f.metadata["general.name"]?.string ?? "unnamed")), GGUF v\(f.version), \(f.tensors.count) tensors")
        print(format("  parameters   %.3f B, %.2f GiB of weights, %.2f bits/weight", Double(params) / 1e9,
                     Double(data) / 1_073_741_824, Double(data) * 8 / Double(max(params, 1))))
        print("  by type      " + bytes.sorted { $0.key < $1.key }.map { "\($0.key) \(format("%.1f", Double($0.value) / 1_048_576)) MiB" }.joined(separator: ", "))
        print("  vision       hidden \(c.vision.hiddenSize), \(c.vision.layerCount) layers, \(c.vision.headCount) heads, MLP \(c.vision.intermediateSize), image \(c.vision.imageSize) / patch \(c.vision.patchSize), eps \(c.vision.layerNormEps)")
        print("  q-former     hidden \(c.qformer.hiddenSize), \(c.qformer.layerCount) layers, \(c.qformer.headCount) heads, cross-attention every \(c.qformer.crossAttentionFrequency), \(c.queryTokenCount) queries, eps \(c.qformer.layerNormEps)")
        switch family {
        case .opt:
            print("  language     OPT hidden \(c.text.hiddenSize), \(c.text.layerCount) layers, \(c.text.headCount) heads, FFN \(c.text.ffnDim), vocab \(c.text.vocabSize), context \(c.text.maxPositionEmbeddings)")
        case .t5:
            let t = c.t5
            print("  language     T5 d_model \(t.hiddenSize), \(t.encoderLayerCount) encoder + \(t.decoderLayerCount) decoder layers, \(t.headCount) heads of \(t.headDim), gated \(t.activation.rawValue) FFN \(t.ffnDim), vocab \(t.vocabSize), \(t.relativeBuckets) position buckets to \(t.relativeMaxDistance), LM head \(t.separateHead ? "lm_head" : "shared")\(t.scalesLogits ? ", logits scaled" : "")")
        case .retrieval:
            print("  text side    vocab \(c.qformer.vocabSize), \(c.qformer.maxPositionEmbeddings) positions; features \(c.imageTextHiddenSize) wide")
        }
        print("  tokenizer    " + tokenizer)
        print("  kernels      \(BLIP2Model.kernelVariant) on this CPU")
        print("  image        \(c.image.width)x\(c.image.height), mean \(c.image.mean), std \(c.image.std)")
    }

    static func tokenize(_ o: Options) throws {
        let path = try ModelLocation.resolve(o.model)
        if try BLIP2Config(metadata: try GGUFFile(path: path).metadata, path: path).family == .retrieval {
            guard !o.decode else { throw UsageError("--decode is for captioning models") }
            guard o.positional.count == 1 else { throw UsageError("tokenize takes one text (quote it)") }
            let model = try RetrievalModel(path: path)
            print(model.tokenizer.encode(o.positional[0]).map(String.init).joined(separator: " "))
            return
        }
        let model = try BLIP2Model(path: path)
        if o.decode {
            guard !o.positional.isEmpty else { throw UsageError("--decode needs token ids") }
            let ids = try o.positional.map { s -> Int in
                guard let id = Int(s), id >= 0 else { throw UsageError("\(s) is not a token id") }
                return id
            }
            print(model.tokenizer.decode(ids))
        } else {
            guard o.positional.count == 1 else { throw UsageError("tokenize takes one text (quote it)") }
            print(model.tokenizer.encode(o.positional[0]).map(String.init).joined(separator: " "))
        }
    }

    static func preprocess(_ o: Options) throws {
        guard o.positional.count == 1 else { throw UsageError("preprocess takes one image") }
        guard let out = o.out else { throw UsageError("preprocess needs --out FILE") }
        let model = try BLIP2Model(path: try ModelLocation.resolve(o.model))
        let pixels = model.imageProcessor.pixelValues(try ImageInput.read(o.positional[0], exifOrientation: o.exifOrientation))
        try SmallFile.write(pixels.withUnsafeBytes { Array($0) }, to: out) // little-endian on every platform we build for
    }

    static func now() -> Double { Clock.monotonicSeconds() }
}

/// Reading an image argument: a path, or - for standard input.
enum ImageInput {
    /// `exifOrientation`: turn the image upright as its EXIF tag says (--exif-orientation).
    static func read(_ argument: String, exifOrientation: Bool) throws -> RGBImage {
        let bytes = try SmallFile.read(argument == "-" ? "/dev/stdin" : argument, limit: ImageDecoder.maxFileBytes)
        return try decode(bytes, name: argument == "-" ? "standard input" : argument, exifOrientation: exifOrientation)
    }

    static func decode(_ bytes: [UInt8], name: String, exifOrientation: Bool) throws -> RGBImage {
        do {
            return try ImageDecoder.read(bytes, exifOrientation: exifOrientation)
        } catch {
            throw ImageFileError(name: name, error: error)
        }
    }

    struct ImageFileError: Error, CustomStringConvertible {
        let name: String
        let error: ImageError
        var description: String { "\(name): \(error)" }
    }
}

/// A one-line status on a terminal, rewritten in place.
struct Progress {
    let enabled: Bool
    func show(_ s: String) {
        guard enabled else { return }
        StandardStreams.writeError("\r\u{1B}[K\(s)...")
    }
    func clear() {
        guard enabled else { return }
        StandardStreams.writeError("\r\u{1B}[K")
    }
}
