import BLIP2System

/// Every configuration field in one table: where transformers' JSON files give it, its GGUF
/// key, and the values we can run. Reading the JSON, writing and reading the model file's
/// metadata and validation all walk this table; the default is the field's initial value in
/// ModelConfig.swift. Adding a field is its property there and its row here.
struct ConfigField {
    enum JSONFile: String {
        case config = "config.json", preprocessor = "preprocessor_config.json", generation = "generation_config.json"
    }

    typealias Path<T> = WritableKeyPath<BLIP2Config, T>

    enum Value {
        /// A count or a size.
        case int(Path<Int>, ClosedRange<Int>)
        /// The side of a square: `n` or `[n, n]` in JSON.
        case side(Path<Int>, ClosedRange<Int>)
        /// A token id, checked against the vocabulary.
        case id(Path<Int>)
        /// Token ids: one or a list in JSON, at least one.
        case ids(Path<[Int]>)
        /// A LayerNorm epsilon: positive and finite.
        case epsilon(Path<Float>)
        /// A finite number, kept in double (the image rescale factor).
        case double(Path<Double>)
        case bool(Path<Bool>)
        /// Three finite per-channel values; one JSON value stands for all three.
        case rgb(Path<[Float]>)
        /// A feed-forward activation by transformers' name.
        case activation(Path<T5Config.Activation>)
    }

    /// Where the JSON files give the field: the first present wins, none leaves the default.
    let json: [(JSONFile, String)]
    /// The GGUF key, below `blip2.`.
    let gguf: String
    let value: Value
    /// The families whose files hold the field.
    let families: Set<ModelFamily>

    init(_ json: [(JSONFile, String)], _ gguf: String, _ value: Value, only families: Set<ModelFamily> = Set(ModelFamily.allCases)) {
        self.json = json
        self.gguf = gguf
        self.value = value
        self.families = families
    }

    /// The name a message gives the field: its JSON path, or its GGUF key.
    var name: String { json.first?.1 ?? gguf }
}

extension BLIP2Config {
    /// The fields a file of this configuration's family holds.
    var fields: [ConfigField] { Self.allFields.filter { $0.families.contains(family) } }

    static var allFields: [ConfigField] {
        let size = 1...(1 << 20), layers = 1...1024, pixels = 1...8192
        func c(_ path: String) -> [(ConfigField.JSONFile, String)] { [(.config, path)] }
        func pp(_ paths: String...) -> [(ConfigField.JSONFile, String)] { paths.map { (.preprocessor, $0) } }
        return [
            .init(c("num_query_tokens"), "num_query_tokens", .int(\.queryTokenCount, 1...4096)),
            .init(c("image_token_index"), "image_token_index", .id(\.imageTokenIndex), only: [.opt, .t5]),
            .init(c("vision_config.hidden_size"), "vision.hidden_size", .int(\.vision.hiddenSize, size)),
            .init(c("vision_config.intermediate_size"), "vision.intermediate_size", .int(\.vision.intermediateSize, size)),
            .init(c("vision_config.num_hidden_layers"), "vision.block_count", .int(\.vision.layerCount, layers)),
            .init(c("vision_config.num_attention_heads"), "vision.head_count", .int(\.vision.headCount, layers)),
            .init(c("vision_config.image_size"), "vision.image_size", .side(\.vision.imageSize, pixels)),
            .init(c("vision_config.patch_size"), "vision.patch_size", .side(\.vision.patchSize, pixels)),
            .init(c("vision_config.layer_norm_eps"), "vision.layer_norm_epsilon", .epsilon(\.vision.layerNormEps)),
            .init(c("qformer_config.hidden_size"), "qformer.hidden_size", .int(\.qformer.hiddenSize, size)),
            .init(c("qformer_config.intermediate_size"), "qformer.intermediate_size", .int(\.qformer.intermediateSize, size)),
            .init(c("qformer_config.num_hidden_layers"), "qformer.block_count", .int(\.qformer.layerCount, layers)),
            .init(c("qformer_config.num_attention_heads"), "qformer.head_count", .int(\.qformer.headCount, layers)),
            .init(c("qformer_config.layer_norm_eps"), "qformer.layer_norm_epsilon", .epsilon(\.qformer.layerNormEps)),
            .init(c("qformer_config.cross_attention_frequency"), "qformer.cross_attention_frequency",
                  .int(\.qformer.crossAttentionFrequency, layers)),
            .init(c("text_config.hidden_size"), "text.hidden_size", .int(\.text.hiddenSize, size), only: [.opt]),
            .init(c("text_config.ffn_dim"), "text.ffn_dim", .int(\.text.ffnDim, size), only: [.opt]),
            .init(c("text_config.num_hidden_layers"), "text.block_count", .int(\.text.layerCount, layers), only: [.opt]),
            .init(c("text_config.num_attention_heads"), "text.head_count", .int(\.text.headCount, layers), only: [.opt]),
            .init(c("text_config.vocab_size"), "text.vocab_size", .int(\.text.vocabSize, 1...(1 << 24)), only: [.opt]),
            .init(c("text_config.max_position_embeddings"), "text.max_position_embeddings", .int(\.text.maxPositionEmbeddings, size), only: [.opt]),
            // OPTConfig has no field for it: nn.LayerNorm's default.
            .init([], "text.layer_norm_epsilon", .epsilon(\.text.layerNormEps), only: [.opt]),
            .init(c("text_config.bos_token_id"), "text.bos_token_id", .id(\.text.bosTokenId), only: [.opt]),
            .init(c("text_config.eos_token_id"), "text.eos_token_ids", .ids(\.text.eosTokenIds), only: [.opt]),
            .init(c("qformer_config.vocab_size"), "qformer.vocab_size", .int(\.qformer.vocabSize, 1...(1 << 24)), only: [.retrieval]),
            .init(c("qformer_config.max_position_embeddings"), "qformer.max_position_embeddings",
                  .int(\.qformer.maxPositionEmbeddings, size), only: [.retrieval]),
            .init(c("text_config.d_model"), "t5.hidden_size", .int(\.t5.hiddenSize, size), only: [.t5]),
            .init(c("text_config.d_ff"), "t5.ffn_dim", .int(\.t5.ffnDim, size), only: [.t5]),
            .init(c("text_config.d_kv"), "t5.head_dim", .int(\.t5.headDim, 1...4096), only: [.t5]),
            .init(c("text_config.num_layers"), "t5.encoder.block_count", .int(\.t5.encoderLayerCount, layers), only: [.t5]),
            // T5Config: num_decoder_layers defaults to num_layers.
            .init([(.config, "text_config.num_decoder_layers"), (.config, "text_config.num_layers")], "t5.decoder.block_count",
                  .int(\.t5.decoderLayerCount, layers), only: [.t5]),
            .init(c("text_config.num_heads"), "t5.head_count", .int(\.t5.headCount, layers), only: [.t5]),
            .init(c("text_config.vocab_size"), "t5.vocab_size", .int(\.t5.vocabSize, 1...(1 << 24)), only: [.t5]),
            .init(c("text_config.relative_attention_num_buckets"), "t5.relative_attention.bucket_count",
                  .int(\.t5.relativeBuckets, 4...4096), only: [.t5]),
            .init(c("text_config.relative_attention_max_distance"), "t5.relative_attention.max_distance",
                  .int(\.t5.relativeMaxDistance, 1...(1 << 20)), only: [.t5]),
            .init(c("text_config.layer_norm_epsilon"), "t5.layer_norm_epsilon", .epsilon(\.t5.layerNormEps), only: [.t5]),
            // When config.json is silent, the initialiser derives it from feed_forward_proj.
            .init(c("text_config.dense_act_fn"), "t5.activation", .activation(\.t5.activation), only: [.t5]),
            .init(c("text_config.tie_word_embeddings"), "t5.scale_logits", .bool(\.t5.scalesLogits), only: [.t5]),
            // Set by the converter from the checkpoint's tensors.
            .init([], "t5.separate_lm_head", .bool(\.t5.separateHead), only: [.t5]),
            .init(c("text_config.decoder_start_token_id"), "t5.decoder_start_token_id", .id(\.t5.decoderStartTokenId), only: [.t5]),
            .init(c("text_config.eos_token_id"), "t5.eos_token_ids", .ids(\.t5.eosTokenIds), only: [.t5]),
            .init(c("text_config.pad_token_id"), "t5.padding_token_id", .id(\.t5.padTokenId), only: [.t5]),
            .init(c("image_text_hidden_size"), "image_text_hidden_size", .int(\.imageTextHiddenSize, size), only: [.retrieval]),
            .init(pp("size.width", "size.shortest_edge"), "image.width", .int(\.image.width, pixels)),
            .init(pp("size.height", "size.shortest_edge"), "image.height", .int(\.image.height, pixels)),
            .init(pp("do_resize"), "image.do_resize", .bool(\.image.doResize)),
            .init(pp("do_rescale"), "image.do_rescale", .bool(\.image.doRescale)),
            .init(pp("rescale_factor"), "image.rescale_factor", .double(\.image.rescaleFactor)),
            .init(pp("do_normalize"), "image.do_normalize", .bool(\.image.doNormalize)),
            .init(pp("image_mean"), "image.mean", .rgb(\.image.mean)),
            .init(pp("image_std"), "image.std", .rgb(\.image.std)),
            // generation_config.json, else what config.json gives the language model.
            .init([(.generation, "eos_token_id"), (.config, "text_config.eos_token_id")], "generation.eos_token_ids",
                  .ids(\.generation.eosTokenIds)),
        ]
    }

    /// What transformers' JSON may say that this library cannot run: each a path, the one
    /// value we support, and why. Nothing reads these fields after conversion.
    var requirements: [(file: ConfigField.JSONFile, path: String, supported: JSONValue, why: String)] {
        let common: [(file: ConfigField.JSONFile, path: String, supported: JSONValue, why: String)] = [
            (.config, "model_type", .string("blip-2"), "not a BLIP-2 checkpoint"),
            (.config, "vision_config.hidden_act", .string("gelu"), "the vision tower runs exact GELU"),
            (.config, "vision_config.qkv_bias", .bool(true), "the vision attention has q and v biases"),
            (.config, "qformer_config.hidden_act", .string("gelu"), "the Q-Former runs exact GELU"),
            (.config, "qformer_config.position_embedding_type", .string("absolute"), "the Q-Former text side has learned positions"),
            (.preprocessor, "resample", .int(3), "images are resized with Pillow's bicubic filter (3)"),
            (.preprocessor, "do_convert_rgb", .bool(true), "images are converted to RGB"),
        ]
        switch family {
        case .retrieval:
            return common + [
                (.config, "qformer_config.use_qformer_text_input", .bool(true), "a retrieval model reads text with its Q-Former"),
            ]
        case .t5:
            return common + [
                (.config, "text_config.model_type", .string("t5"), "only T5 encoder-decoders run in this family"),
                (.config, "qformer_config.use_qformer_text_input", .bool(false), "InstructBLIP-style text input"),
            ]
        case .opt:
            return common + [
                (.config, "text_config.model_type", .string("opt"), "only OPT language models are supported"),
                (.config, "qformer_config.use_qformer_text_input", .bool(false), "InstructBLIP-style text input"),
                (.config, "text_config.activation_function", .string("relu"), "OPT runs ReLU"),
                (.config, "text_config.tie_word_embeddings", .bool(true), "a separate lm_head is not supported"),
                (.config, "text_config.do_layer_norm_before", .bool(true), "post-LayerNorm OPT, as opt-350m"),
                (.config, "text_config._remove_final_layer_norm", .bool(false), "OPT without its final LayerNorm"),
                (.config, "text_config.enable_bias", .bool(true), "OPT without biases"),
                (.config, "text_config.layer_norm_elementwise_affine", .bool(true), "LayerNorm without weights"),
            ]
        }
    }
}
