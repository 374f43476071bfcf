/// The configuration as GGUF metadata: one typed key per field, so a model file needs no
/// JSON beside it. Keys follow llama.cpp's naming where one exists (block_count,
/// head_count, layer_norm_epsilon).
extension BLIP2Config {
    public static let architecture = "blip2"

    public var metadata: GGUFMetadata {
        var m = GGUFMetadata()
        func u(_ k: String, _ v: Int) { m.set(k, .uint32(UInt32(v))) }
        func f(_ k: String, _ v: Float) { m.set(k, .float32(v)) }
        func b(_ k: String, _ v: Bool) { m.set(k, .bool(v)) }
        func s(_ k: String, _ v: String) { m.set(k, .string(v)) }
        let p = "blip2."
        u(p + "num_query_tokens", queryTokenCount)
        u(p + "image_token_index", imageTokenIndex)
        u(p + "vision.hidden_size", vision.hiddenSize)
        u(p + "vision.intermediate_size", vision.intermediateSize)
        u(p + "vision.block_count", vision.layerCount)
        u(p + "vision.head_count", vision.headCount)
        u(p + "vision.image_size", vision.imageSize)
        u(p + "vision.patch_size", vision.patchSize)
        f(p + "vision.layer_norm_epsilon", vision.layerNormEps)
        s(p + "vision.hidden_act", vision.hiddenAct)
        b(p + "vision.qkv_bias", vision.qkvBias)
        u(p + "qformer.hidden_size", qformer.hiddenSize)
        u(p + "qformer.intermediate_size", qformer.intermediateSize)
        u(p + "qformer.block_count", qformer.layerCount)
        u(p + "qformer.head_count", qformer.headCount)
        f(p + "qformer.layer_norm_epsilon", qformer.layerNormEps)
        u(p + "qformer.cross_attention_frequency", qformer.crossAttentionFrequency)
        u(p + "qformer.encoder_hidden_size", qformer.encoderHiddenSize)
        s(p + "qformer.hidden_act", qformer.hiddenAct)
        s(p + "text.architecture", "opt")
        u(p + "text.hidden_size", text.hiddenSize)
        u(p + "text.ffn_dim", text.ffnDim)
        u(p + "text.block_count", text.layerCount)
        u(p + "text.head_count", text.headCount)
        u(p + "text.vocab_size", text.vocabSize)
        u(p + "text.max_position_embeddings", text.maxPositionEmbeddings)
        u(p + "text.position_offset", TextConfig.positionOffset)
        f(p + "text.layer_norm_epsilon", text.layerNormEps)
        s(p + "text.activation_function", text.activation)
        b(p + "text.tie_word_embeddings", text.tieWordEmbeddings)
        u(p + "text.bos_token_id", text.bosTokenId)
        m.set(p + "text.eos_token_ids", .uint32s(text.eosTokenIds.map(UInt32.init)))
        u(p + "text.pad_token_id", text.padTokenId)
        u(p + "image.width", image.width)
        u(p + "image.height", image.height)
        u(p + "image.resample", image.resample)
        b(p + "image.do_resize", image.doResize)
        b(p + "image.do_rescale", image.doRescale)
        m.set(p + "image.rescale_factor", .float64(image.rescaleFactor))
        b(p + "image.do_normalize", image.doNormalize)
        m.set(p + "image.mean", .floats(image.mean))
        m.set(p + "image.std", .floats(image.std))
        b(p + "image.do_convert_rgb", image.doConvertRGB)
        u(p + "generation.bos_token_id", generation.bosTokenId)
        m.set(p + "generation.eos_token_ids", .uint32s(generation.eosTokenIds.map(UInt32.init)))
        u(p + "generation.pad_token_id", generation.padTokenId)
        return m
    }

    /// Reads the configuration back from a model file's metadata, requiring every key.
    public init(metadata m: GGUFMetadata, path: String) throws {
        self.init()
        func value(_ k: String) throws(GGUFError) -> GGUFValue {
            guard let v = m["blip2." + k] else { throw .missingKey(path: path, key: "blip2." + k) }
            return v
        }
        func u(_ k: String) throws(GGUFError) -> Int {
            guard let v = try value(k).integer else { throw .wrongKeyType(path: path, key: "blip2." + k, expected: "an integer") }
            return v
        }
        func d(_ k: String) throws(GGUFError) -> Double {
            guard let v = try value(k).number else { throw .wrongKeyType(path: path, key: "blip2." + k, expected: "a number") }
            return v
        }
        func f(_ k: String) throws(GGUFError) -> Float { Float(try d(k)) }
        func b(_ k: String) throws(GGUFError) -> Bool {
            guard let v = try value(k).bool else { throw .wrongKeyType(path: path, key: "blip2." + k, expected: "a bool") }
            return v
        }
        func s(_ k: String) throws(GGUFError) -> String {
            guard let v = try value(k).string else { throw .wrongKeyType(path: path, key: "blip2." + k, expected: "a string") }
            return v
        }
        func ints(_ k: String) throws(GGUFError) -> [Int] {
            guard let a = try value(k).array, case let ids = a.compactMap(\.integer), ids.count == a.count else {
                throw .wrongKeyType(path: path, key: "blip2." + k, expected: "an array of integers")
            }
            return ids
        }
        func floats(_ k: String) throws(GGUFError) -> [Float] {
            guard let a = try value(k).array, case let xs = a.compactMap(\.number), xs.count == a.count else {
                throw .wrongKeyType(path: path, key: "blip2." + k, expected: "an array of numbers")
            }
            return xs.map(Float.init)
        }
        guard m["general.architecture"]?.string == Self.architecture else {
            throw GGUFError.invalid(path: path, reason: "general.architecture is not \"\(Self.architecture)\": not a BLIP-2 model file")
        }
        queryTokenCount = try u("num_query_tokens")
        imageTokenIndex = try u("image_token_index")
        vision.hiddenSize = try u("vision.hidden_size")
        vision.intermediateSize = try u("vision.intermediate_size")
        vision.layerCount = try u("vision.block_count")
        vision.headCount = try u("vision.head_count")
        vision.imageSize = try u("vision.image_size")
        vision.patchSize = try u("vision.patch_size")
        vision.layerNormEps = try f("vision.layer_norm_epsilon")
        vision.hiddenAct = try s("vision.hidden_act")
        vision.qkvBias = try b("vision.qkv_bias")
        qformer.hiddenSize = try u("qformer.hidden_size")
        qformer.intermediateSize = try u("qformer.intermediate_size")
        qformer.layerCount = try u("qformer.block_count")
        qformer.headCount = try u("qformer.head_count")
        qformer.layerNormEps = try f("qformer.layer_norm_epsilon")
        qformer.crossAttentionFrequency = try u("qformer.cross_attention_frequency")
        qformer.encoderHiddenSize = try u("qformer.encoder_hidden_size")
        qformer.hiddenAct = try s("qformer.hidden_act")
        guard try s("text.architecture") == "opt" else {
            throw GGUFError.invalid(path: path, reason: "blip2.text.architecture is not \"opt\"")
        }
        text.hiddenSize = try u("text.hidden_size")
        text.ffnDim = try u("text.ffn_dim")
        text.layerCount = try u("text.block_count")
        text.headCount = try u("text.head_count")
        text.vocabSize = try u("text.vocab_size")
        text.maxPositionEmbeddings = try u("text.max_position_embeddings")
        guard try u("text.position_offset") == TextConfig.positionOffset else {
            throw GGUFError.invalid(path: path, reason: "blip2.text.position_offset must be \(TextConfig.positionOffset)")
        }
        text.layerNormEps = try f("text.layer_norm_epsilon")
        text.activation = try s("text.activation_function")
        text.tieWordEmbeddings = try b("text.tie_word_embeddings")
        text.bosTokenId = try u("text.bos_token_id")
        text.eosTokenIds = try ints("text.eos_token_ids")
        text.padTokenId = try u("text.pad_token_id")
        image.width = try u("image.width")
        image.height = try u("image.height")
        image.resample = try u("image.resample")
        image.doResize = try b("image.do_resize")
        image.doRescale = try b("image.do_rescale")
        image.rescaleFactor = try d("image.rescale_factor")
        image.doNormalize = try b("image.do_normalize")
        image.mean = try floats("image.mean")
        image.std = try floats("image.std")
        image.doConvertRGB = try b("image.do_convert_rgb")
        generation.bosTokenId = try u("generation.bos_token_id")
        generation.eosTokenIds = try ints("generation.eos_token_ids")
        generation.padTokenId = try u("generation.pad_token_id")
        try validate(file: path)
    }
}
