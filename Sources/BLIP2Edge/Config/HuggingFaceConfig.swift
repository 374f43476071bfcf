import BLIP2System

/// Reading transformers' JSON files (config.json, preprocessor_config.json,
/// generation_config.json) into a resolved `BLIP2Config` by walking the field table. Absent
/// fields keep the defaults of transformers' config classes, which is what `from_pretrained` does.
extension BLIP2Config {
    /// `imageTokenFallback` is the tokenizer's id for `<image>`, used when config.json
    /// predates `image_token_index`.
    public init(configJSON: [UInt8], preprocessorJSON: [UInt8], generationJSON: [UInt8]?, imageTokenFallback: Int?) throws(ConfigError) {
        self.init()
        var json: [ConfigField.JSONFile: JSONValue] = [
            .config: try .object(configJSON, file: ConfigField.JSONFile.config.rawValue),
            .preprocessor: try .object(preprocessorJSON, file: ConfigField.JSONFile.preprocessor.rawValue),
        ]
        if let g = generationJSON { json[.generation] = try .object(g, file: ConfigField.JSONFile.generation.rawValue) }
        let config = json[.config] ?? .null
        family = Self.family(config)

        for r in requirements {
            if let v = json[r.file]?[r.path], v != r.supported {
                throw .unsupported(file: r.file.rawValue, reason: "\(r.path) is \(v.literal), not \(r.supported.literal): \(r.why)")
            }
        }
        if family == .retrieval, config["qformer_config.use_qformer_text_input"]?.bool != true {
            throw .unsupported(file: "config.json", reason: "qformer_config.use_qformer_text_input is not true: the Q-Former has no text side to match images with")
        }
        if family != .retrieval, config["text_config"] == nil { throw .invalid(file: "config.json", reason: "text_config is missing") }
        for f in fields {
            for (file, path) in f.json {
                // null is what Python's None becomes: the class default, as an absent key.
                guard let v = json[file]?[path], v != .null else { continue }
                try set(f.value, from: v, file: file.rawValue, path: path)
                break
            }
        }
        if family == .t5 { try resolveT5FeedForward(config) }
        if family != .retrieval, config["image_token_index"] == nil {
            guard let id = imageTokenFallback else {
                throw .invalid(file: "config.json", reason: "image_token_index is missing and the tokenizer has no <image> token")
            }
            imageTokenIndex = id
        }
        if family == .opt, let w = config["text_config.word_embed_proj_dim"]?.int, w != text.hiddenSize {
            throw .unsupported(file: "config.json", reason: "text_config.word_embed_proj_dim \(w) differs from hidden_size \(text.hiddenSize) (projected embeddings, as opt-350m)")
        }
        if let t = json[.preprocessor]?["image_processor_type"]?.string, !t.hasPrefix("BlipImageProcessor") {
            throw .unsupported(file: "preprocessor_config.json", reason: "image_processor_type is \(t), expected BlipImageProcessor")
        }
        try validate()
    }

    /// What a checkpoint's config.json describes: the retrieval model by its class name, else
    /// the captioning model with the language model its text_config names (whose settings
    /// the requirements then check).
    public static func family(configJSON: [UInt8]) throws(ConfigError) -> ModelFamily {
        family(try .object(configJSON, file: ConfigField.JSONFile.config.rawValue))
    }

    static func family(_ config: JSONValue) -> ModelFamily {
        let architectures = config["architectures"]?.list.compactMap(\.string) ?? []
        if architectures.contains("Blip2ForImageTextRetrieval") { return .retrieval }
        return config["text_config.model_type"]?.string == "t5" ? .t5 : .opt
    }

    /// T5Config's reading of feed_forward_proj: "gated-ACT" is a gated feed-forward whose
    /// activation is ACT ("gated-gelu" meaning the tanh form), unless dense_act_fn names one.
    private mutating func resolveT5FeedForward(_ config: JSONValue) throws(ConfigError) {
        let proj = config["text_config.feed_forward_proj"]?.string ?? "relu"
        guard proj.hasPrefix("gated-") else {
            throw .unsupported(file: "config.json", reason: "text_config.feed_forward_proj is \"\(proj)\": only gated feed-forwards (FlanT5, T5 v1.1) are supported")
        }
        if let named = config["text_config.dense_act_fn"], named != .null { return } // read with the other fields
        let act = proj == "gated-gelu" ? "gelu_new" : String(proj.dropFirst("gated-".count))
        guard let a = T5Config.Activation(rawValue: act) else {
            throw .unsupported(file: "config.json", reason: "text_config.feed_forward_proj \"\(proj)\": the activation \(act) is not supported (gelu, gelu_new)")
        }
        t5.activation = a
    }

    mutating func set(_ value: ConfigField.Value, from v: JSONValue, file: String, path: String) throws(ConfigError) {
        func wrong(_ type: String) -> ConfigError { .invalid(file: file, reason: "\(path) should be \(type)") }
        func integers() throws(ConfigError) -> [Int] {
            let xs = v.list.compactMap(\.int)
            guard xs.count == v.list.count else { throw wrong("Int or [Int]") }
            return xs
        }
        switch value {
        case let .int(p, _), let .id(p):
            guard let x = v.int else { throw wrong("Int") }
            self[keyPath: p] = x
        case let .side(p, _):
            let xs = try integers()
            guard let first = xs.first, xs.count <= 2, xs.allSatisfy({ $0 == first }) else {
                throw .unsupported(file: file, reason: "\(path) \(xs) is not square")
            }
            self[keyPath: p] = first
        case let .ids(p): self[keyPath: p] = try integers()
        case let .epsilon(p):
            guard let x = v.number else { throw wrong("Double") }
            self[keyPath: p] = Float(x)
        case let .double(p):
            guard let x = v.number else { throw wrong("Double") }
            self[keyPath: p] = x
        case let .bool(p):
            guard let x = v.bool else { throw wrong("Bool") }
            self[keyPath: p] = x
        case let .rgb(p):
            let xs = v.list.compactMap(\.number)
            guard xs.count == v.list.count, xs.count == 1 || xs.count == 3 else {
                throw .invalid(file: file, reason: "\(path) needs 1 or 3 values")
            }
            self[keyPath: p] = (xs.count == 1 ? Array(repeating: xs[0], count: 3) : xs).map(Float.init)
        case let .activation(p):
            guard let name = v.string else { throw wrong("String") }
            guard let a = T5Config.Activation(rawValue: name) else {
                throw .unsupported(file: file, reason: "\(path) is \"\(name)\"; supported: \(T5Config.Activation.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self[keyPath: p] = a
        }
    }

    /// Rejects configurations the forward pass cannot run, and sizes so large they can only
    /// be a corrupt file, before anything is allocated from them.
    public func validate(file: String = "config.json") throws(ConfigError) {
        func check(_ ok: Bool, _ reason: @autoclosure () -> String) throws(ConfigError) {
            if !ok { throw .invalid(file: file, reason: reason()) }
        }
        func inVocabulary(_ name: String, _ id: Int) throws(ConfigError) {
            try check(id >= 0 && id < languageVocabSize, "\(name) \(id) is outside the vocabulary of \(languageVocabSize)")
        }
        for f in fields {
            switch f.value {
            case let .int(p, range), let .side(p, range):
                try check(range.contains(self[keyPath: p]), "\(f.name) is \(self[keyPath: p]), expected \(range.lowerBound)...\(range.upperBound)")
            case let .id(p): try inVocabulary(f.name, self[keyPath: p])
            case let .ids(p):
                try check(!self[keyPath: p].isEmpty, "\(f.name) names no token")
                for id in self[keyPath: p] { try inVocabulary(f.name, id) }
            case let .epsilon(p): try check(self[keyPath: p] > 0 && self[keyPath: p].isFinite, "\(f.name) must be positive and finite")
            case let .double(p): try check(self[keyPath: p].isFinite, "\(f.name) must be finite")
            case .bool: break
            case let .rgb(p): try check(self[keyPath: p].count == 3 && self[keyPath: p].allSatisfy(\.isFinite), "\(f.name) needs 3 finite values")
            case .activation: break
            }
        }
        var towers = [("vision", vision.hiddenSize, vision.headCount), ("qformer", qformer.hiddenSize, qformer.headCount)]
        if family == .opt { towers.append(("text", text.hiddenSize, text.headCount)) }
        for (name, hidden, heads) in towers {
            try check(hidden % heads == 0, "\(name) hidden_size \(hidden) is not a multiple of num_attention_heads \(heads)")
        }
        try check(vision.imageSize % vision.patchSize == 0, "vision image_size \(vision.imageSize) is not a multiple of patch_size \(vision.patchSize)")
        if family == .opt {
            try check(queryTokenCount + 2 <= text.maxPositionEmbeddings, "num_query_tokens \(queryTokenCount) leaves no room in max_position_embeddings \(text.maxPositionEmbeddings)")
        }
        if family == .t5 {
            // The log-spaced buckets start at half (decoder) or a quarter (encoder) of the count.
            try check(t5.relativeMaxDistance > t5.relativeBuckets / 2,
                      "relative_attention_max_distance \(t5.relativeMaxDistance) is not beyond the exact buckets (\(t5.relativeBuckets / 2))")
        }
        try check(image.std.allSatisfy { $0 != 0 }, "image_std must be non-zero")
    }
}
