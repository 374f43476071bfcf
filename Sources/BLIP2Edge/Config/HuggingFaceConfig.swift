import Foundation

/// Reading transformers' JSON files (config.json, preprocessor_config.json,
/// generation_config.json) into a resolved `BLIP2Config`. Absent fields take the defaults of
/// transformers' config classes, which is what `from_pretrained` does.
extension BLIP2Config {
    /// `imageTokenFallback` is the tokenizer's id for `<image>`, used when config.json
    /// predates `image_token_index`.
    public init(configJSON: Data, preprocessorJSON: Data, generationJSON: Data?, imageTokenFallback: Int?) throws(ConfigError) {
        self.init()
        let hf: HFConfig = try decode(configJSON, file: "config.json")
        try apply(hf)
        if hf.image_token_index == nil {
            guard let id = imageTokenFallback else {
                throw .invalid(file: "config.json", reason: "image_token_index is missing and the tokenizer has no <image> token")
            }
            imageTokenIndex = id
        }
        let pp: HFPreprocessor = try decode(preprocessorJSON, file: "preprocessor_config.json")
        try apply(pp)
        generation.bosTokenId = text.bosTokenId
        generation.eosTokenIds = text.eosTokenIds
        generation.padTokenId = text.padTokenId
        if let g = generationJSON {
            let gen: HFGeneration = try decode(g, file: "generation_config.json")
            if let v = gen.bos_token_id { generation.bosTokenId = v }
            if let v = gen.eos_token_id { generation.eosTokenIds = v.values }
            if let v = gen.pad_token_id { generation.padTokenId = v }
        }
        try validate()
    }

    private mutating func apply(_ hf: HFConfig) throws(ConfigError) {
        let file = "config.json"
        if let mt = hf.model_type, mt != "blip-2" {
            throw .unsupported(file: file, reason: "model_type is \"\(mt)\", expected \"blip-2\"")
        }
        if let n = hf.num_query_tokens { queryTokenCount = n }
        if let v = hf.vision_config {
            if let x = v.hidden_size { vision.hiddenSize = x }
            if let x = v.intermediate_size { vision.intermediateSize = x }
            if let x = v.num_hidden_layers { vision.layerCount = x }
            if let x = v.num_attention_heads { vision.headCount = x }
            if let x = v.image_size { vision.imageSize = try x.square(file: file, field: "vision_config.image_size") }
            if let x = v.patch_size { vision.patchSize = try x.square(file: file, field: "vision_config.patch_size") }
            if let x = v.layer_norm_eps { vision.layerNormEps = Float(x) }
            if let x = v.hidden_act { vision.hiddenAct = x }
            if let x = v.qkv_bias { vision.qkvBias = x }
        }
        if let q = hf.qformer_config {
            if let x = q.hidden_size { qformer.hiddenSize = x }
            if let x = q.intermediate_size { qformer.intermediateSize = x }
            if let x = q.num_hidden_layers { qformer.layerCount = x }
            if let x = q.num_attention_heads { qformer.headCount = x }
            if let x = q.layer_norm_eps { qformer.layerNormEps = Float(x) }
            if let x = q.cross_attention_frequency { qformer.crossAttentionFrequency = x }
            if let x = q.hidden_act { qformer.hiddenAct = x }
            if q.use_qformer_text_input == true {
                throw .unsupported(file: file, reason: "qformer_config.use_qformer_text_input is true (InstructBLIP-style text input)")
            }
        }
        // Blip2Config overwrites this whatever the file says.
        qformer.encoderHiddenSize = vision.hiddenSize
        guard let t = hf.text_config else {
            throw .invalid(file: file, reason: "text_config is missing")
        }
        if let mt = t.model_type, mt != "opt" {
            throw .unsupported(file: file, reason: "text_config.model_type is \"\(mt)\"; only OPT language models are supported")
        }
        if let x = t.hidden_size { text.hiddenSize = x }
        if let x = t.ffn_dim { text.ffnDim = x }
        if let x = t.num_hidden_layers { text.layerCount = x }
        if let x = t.num_attention_heads { text.headCount = x }
        if let x = t.vocab_size { text.vocabSize = x }
        if let x = t.max_position_embeddings { text.maxPositionEmbeddings = x }
        if let x = t.activation_function { text.activation = x }
        if let x = t.tie_word_embeddings { text.tieWordEmbeddings = x }
        if let x = t.bos_token_id { text.bosTokenId = x }
        if let x = t.eos_token_id { text.eosTokenIds = x.values }
        if let x = t.pad_token_id { text.padTokenId = x }
        if t.do_layer_norm_before == false {
            throw .unsupported(file: file, reason: "text_config.do_layer_norm_before is false (post-LayerNorm OPT, as opt-350m)")
        }
        if t._remove_final_layer_norm == true {
            throw .unsupported(file: file, reason: "text_config._remove_final_layer_norm is true")
        }
        if let w = t.word_embed_proj_dim, w != text.hiddenSize {
            throw .unsupported(file: file, reason: "text_config.word_embed_proj_dim \(w) differs from hidden_size \(text.hiddenSize) (projected embeddings, as opt-350m)")
        }
        if t.enable_bias == false {
            throw .unsupported(file: file, reason: "text_config.enable_bias is false")
        }
        if t.layer_norm_elementwise_affine == false {
            throw .unsupported(file: file, reason: "text_config.layer_norm_elementwise_affine is false")
        }
        if let x = hf.image_token_index { imageTokenIndex = x }
    }

    private mutating func apply(_ pp: HFPreprocessor) throws(ConfigError) {
        let file = "preprocessor_config.json"
        if let t = pp.image_processor_type, !t.hasPrefix("BlipImageProcessor") {
            throw .unsupported(file: file, reason: "image_processor_type is \(t), expected BlipImageProcessor")
        }
        if let s = pp.size {
            guard let h = s.height ?? s.shortest_edge, let w = s.width ?? s.shortest_edge else {
                throw .invalid(file: file, reason: "size must give height and width")
            }
            image.height = h
            image.width = w
        }
        if let x = pp.resample { image.resample = x }
        if let x = pp.do_resize { image.doResize = x }
        if let x = pp.do_rescale { image.doRescale = x }
        if let x = pp.rescale_factor { image.rescaleFactor = x }
        if let x = pp.do_normalize { image.doNormalize = x }
        if let x = pp.do_convert_rgb { image.doConvertRGB = x }
        if let x = pp.image_mean { image.mean = try x.rgb(file: file, field: "image_mean").map(Float.init) }
        if let x = pp.image_std { image.std = try x.rgb(file: file, field: "image_std").map(Float.init) }
    }

    /// Rejects configurations the forward pass cannot run, and sizes so large they can only
    /// be a corrupt file, before anything is allocated from them.
    public func validate(file: String = "config.json") throws(ConfigError) {
        func check(_ ok: Bool, _ reason: @autoclosure () -> String) throws(ConfigError) {
            if !ok { throw .invalid(file: file, reason: reason()) }
        }
        func positive(_ name: String, _ v: Int, max: Int = 1 << 20) throws(ConfigError) {
            try check(v >= 1 && v <= max, "\(name) is \(v), expected 1...\(max)")
        }
        try positive("vision_config.hidden_size", vision.hiddenSize)
        try positive("vision_config.intermediate_size", vision.intermediateSize)
        try positive("vision_config.num_hidden_layers", vision.layerCount, max: 1024)
        try positive("vision_config.num_attention_heads", vision.headCount, max: 1024)
        try positive("vision_config.image_size", vision.imageSize, max: 8192)
        try positive("vision_config.patch_size", vision.patchSize, max: 8192)
        try check(vision.hiddenSize % vision.headCount == 0, "vision hidden_size \(vision.hiddenSize) is not a multiple of num_attention_heads \(vision.headCount)")
        try check(vision.imageSize % vision.patchSize == 0, "vision image_size \(vision.imageSize) is not a multiple of patch_size \(vision.patchSize)")
        try check(vision.hiddenAct == "gelu", "vision hidden_act \(vision.hiddenAct) is not supported (gelu only)")
        try check(vision.qkvBias, "vision qkv_bias false is not supported")
        try positive("qformer_config.hidden_size", qformer.hiddenSize)
        try positive("qformer_config.intermediate_size", qformer.intermediateSize)
        try positive("qformer_config.num_hidden_layers", qformer.layerCount, max: 1024)
        try positive("qformer_config.num_attention_heads", qformer.headCount, max: 1024)
        try positive("qformer_config.cross_attention_frequency", qformer.crossAttentionFrequency, max: 1024)
        try check(qformer.hiddenSize % qformer.headCount == 0, "qformer hidden_size \(qformer.hiddenSize) is not a multiple of num_attention_heads \(qformer.headCount)")
        try check(qformer.hiddenAct == "gelu", "qformer hidden_act \(qformer.hiddenAct) is not supported (gelu only)")
        try positive("text_config.hidden_size", text.hiddenSize)
        try positive("text_config.ffn_dim", text.ffnDim)
        try positive("text_config.num_hidden_layers", text.layerCount, max: 1024)
        try positive("text_config.num_attention_heads", text.headCount, max: 1024)
        try positive("text_config.vocab_size", text.vocabSize, max: 1 << 24)
        try positive("text_config.max_position_embeddings", text.maxPositionEmbeddings)
        try check(text.hiddenSize % text.headCount == 0, "text hidden_size \(text.hiddenSize) is not a multiple of num_attention_heads \(text.headCount)")
        try check(text.activation == "relu", "text activation_function \(text.activation) is not supported (relu only)")
        try check(text.tieWordEmbeddings, "text_config.tie_word_embeddings false (a separate lm_head) is not supported")
        try positive("num_query_tokens", queryTokenCount, max: 4096)
        try check(queryTokenCount + 2 <= text.maxPositionEmbeddings, "num_query_tokens \(queryTokenCount) leaves no room in max_position_embeddings \(text.maxPositionEmbeddings)")
        try check(imageTokenIndex >= 0 && imageTokenIndex < text.vocabSize, "image_token_index \(imageTokenIndex) is outside the vocabulary of \(text.vocabSize)")
        for id in [text.bosTokenId, text.padTokenId, generation.bosTokenId, generation.padTokenId] + text.eosTokenIds + generation.eosTokenIds {
            try check(id >= 0 && id < text.vocabSize, "special token id \(id) is outside the vocabulary of \(text.vocabSize)")
        }
        try check(!generation.eosTokenIds.isEmpty, "no end-of-sequence token id")
        try positive("image width", image.width, max: 8192)
        try positive("image height", image.height, max: 8192)
        try check(image.mean.count == 3 && image.std.count == 3, "image mean and std need 3 values each")
        try check(image.std.allSatisfy { $0 != 0 && $0.isFinite } && image.mean.allSatisfy(\.isFinite), "image std must be finite and non-zero")
        try check(image.rescaleFactor.isFinite, "rescale_factor must be finite")
        for (name, eps) in [("vision", vision.layerNormEps), ("qformer", qformer.layerNormEps), ("text", text.layerNormEps)] {
            try check(eps > 0 && eps.isFinite, "\(name) layer_norm_eps must be positive")
        }
    }
}

private func decode<T: Decodable>(_ data: Data, file: String) throws(ConfigError) -> T {
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let DecodingError.typeMismatch(type, context) {
        throw .invalid(file: file, reason: "\(fieldPath(context)) should be \(type)")
    } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
        throw .invalid(file: file, reason: "\(fieldPath(context)) has an invalid value")
    } catch {
        throw .invalid(file: file, reason: "not a valid JSON object")
    }
}

private func fieldPath(_ context: DecodingError.Context) -> String {
    context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
}

// MARK: - transformers' JSON, field names as written

private struct HFConfig: Decodable {
    var model_type: String?
    var num_query_tokens: Int?
    var image_token_index: Int?
    var vision_config: HFVision?
    var qformer_config: HFQFormer?
    var text_config: HFText?
}

private struct HFVision: Decodable {
    var hidden_size, intermediate_size, num_hidden_layers, num_attention_heads: Int?
    var image_size, patch_size: IntOrPair?
    var layer_norm_eps: Double?
    var hidden_act: String?
    var qkv_bias: Bool?
}

private struct HFQFormer: Decodable {
    var hidden_size, intermediate_size, num_hidden_layers, num_attention_heads: Int?
    var cross_attention_frequency: Int?
    var layer_norm_eps: Double?
    var hidden_act: String?
    var use_qformer_text_input: Bool?
}

private struct HFText: Decodable {
    var model_type: String?
    var hidden_size, ffn_dim, num_hidden_layers, num_attention_heads: Int?
    var vocab_size, max_position_embeddings, word_embed_proj_dim: Int?
    var activation_function: String?
    var do_layer_norm_before, _remove_final_layer_norm, enable_bias, layer_norm_elementwise_affine: Bool?
    var tie_word_embeddings: Bool?
    var bos_token_id, pad_token_id: Int?
    var eos_token_id: IntOrList?
}

private struct HFPreprocessor: Decodable {
    struct Size: Decodable { var height, width, shortest_edge: Int? }
    var image_processor_type: String?
    var size: Size?
    var resample: Int?
    var do_resize, do_rescale, do_normalize, do_convert_rgb: Bool?
    var rescale_factor: Double?
    var image_mean, image_std: DoubleOrList?
}

private struct HFGeneration: Decodable {
    var bos_token_id, pad_token_id: Int?
    var eos_token_id: IntOrList?
}

/// transformers accepts `224` or `[224, 224]` for image and patch sizes.
private struct IntOrPair: Decodable {
    let values: [Int]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { values = [v] } else { values = try c.decode([Int].self) }
    }
    func square(file: String, field: String) throws(ConfigError) -> Int {
        guard let first = values.first, values.allSatisfy({ $0 == first }), values.count <= 2 else {
            throw .unsupported(file: file, reason: "\(field) \(values) is not square")
        }
        return first
    }
}

/// eos_token_id may be one id or a list of them.
private struct IntOrList: Decodable {
    let values: [Int]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { values = [v] } else { values = try c.decode([Int].self) }
    }
}

/// image_mean/std may be one value for all channels or three.
private struct DoubleOrList: Decodable {
    let values: [Double]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Double.self) { values = [v] } else { values = try c.decode([Double].self) }
    }
    func rgb(file: String, field: String) throws(ConfigError) -> [Double] {
        if values.count == 1 { return Array(repeating: values[0], count: 3) }
        guard values.count == 3 else { throw .invalid(file: file, reason: "\(field) needs 1 or 3 values") }
        return values
    }
}
