/// The resolved configuration of a BLIP-2 model: every field the forward pass needs, with
/// transformers' class defaults filled in where the checkpoint's config.json is silent. The
/// initial values are those defaults; ConfigFields.swift says where each field comes from.

/// EVA ViT-G image encoder (`Blip2VisionConfig`).
public struct VisionConfig: Sendable, Equatable {
    public var hiddenSize = 1408
    public var intermediateSize = 6144
    public var layerCount = 39
    public var headCount = 16
    public var imageSize = 224
    public var patchSize = 14
    public var layerNormEps: Float = 1e-6

    public init() {}
    public var headDim: Int { hiddenSize / headCount }
    /// Patches per side of the square image.
    public var gridSize: Int { imageSize / patchSize }
    /// Patches plus the class token: 257 for blip2-opt-2.7b.
    public var tokenCount: Int { gridSize * gridSize + 1 }
}

/// The Q-Former (`Blip2QFormerConfig`): BERT-style layers over the learned query tokens.
public struct QFormerConfig: Sendable, Equatable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var layerCount = 12
    public var headCount = 12
    public var layerNormEps: Float = 1e-12
    public var crossAttentionFrequency = 2
    /// The text side, which only retrieval models use: BERT's vocabulary plus `[DEC]`, and
    /// learned positions.
    public var vocabSize = 30522
    public var maxPositionEmbeddings = 512

    public init() {}
    public var headDim: Int { hiddenSize / headCount }
    /// Whether layer `i` has cross-attention (transformers: `i % frequency == 0`).
    public func hasCrossAttention(layer i: Int) -> Bool { i % crossAttentionFrequency == 0 }
}

/// The OPT decoder (`OPTConfig`): pre-LayerNorm, ReLU, LM head tied to the embedding.
public struct TextConfig: Sendable, Equatable {
    public var hiddenSize = 768
    public var ffnDim = 3072
    public var layerCount = 12
    public var headCount = 12
    public var vocabSize = 50272
    public var maxPositionEmbeddings = 2048
    /// nn.LayerNorm's default: OPTConfig has no field for it.
    public var layerNormEps: Float = 1e-5
    public var bosTokenId = 2
    public var eosTokenIds = [2]

    public init() {}
    public var headDim: Int { hiddenSize / headCount }
    /// OPT's learned positions are looked up at `position + 2` (a fairseq legacy).
    public static let positionOffset = 2
}

/// The FlanT5 encoder-decoder (`T5Config`) as BLIP-2 uses it: RMS norms, relative position
/// buckets, a gated feed-forward, attention without score scaling.
public struct T5Config: Sendable, Equatable {
    /// The gated feed-forward's activation (`dense_act_fn`): BLIP-2's FlanT5 checkpoints name
    /// exact GELU, plain flan-t5 configurations the tanh form.
    public enum Activation: String, Sendable, Equatable, CaseIterable {
        case gelu
        case geluTanh = "gelu_new"
    }

    public var hiddenSize = 512          // d_model
    public var ffnDim = 2048             // d_ff
    public var headDim = 64              // d_kv
    public var encoderLayerCount = 6     // num_layers
    public var decoderLayerCount = 6     // num_decoder_layers (num_layers when absent)
    public var headCount = 8
    public var vocabSize = 32128
    public var relativeBuckets = 32
    public var relativeMaxDistance = 128
    public var layerNormEps: Float = 1e-6
    public var activation = Activation.geluTanh
    /// Logits from d_model^-0.5 times the decoder's output, as the original T5 computes them;
    /// T5 v1.1, FlanT5 and BLIP-2 turn it off by saying `tie_word_embeddings` false, which is
    /// all that field still means to transformers 5 (it ties the weights regardless).
    public var scalesLogits = true
    /// Whether the file holds its own `lm_head`, else the head is `shared`: transformers 5
    /// keeps a checkpoint's lm_head only when its values differ from shared's, as BLIP-2's do.
    /// Decided by the checkpoint, not by config.json.
    public var separateHead = false
    public var decoderStartTokenId = 0
    public var eosTokenIds = [1]
    public var padTokenId = 0

    public init() {}
    /// Width of the attention projections (heads x d_kv), which need not be d_model.
    public var innerDim: Int { headCount * headDim }
}

/// Image preprocessing constants (`BlipImageProcessor`; always Pillow's bicubic resize, RGB).
public struct ImagePreprocessing: Sendable, Equatable {
    public var width = 384
    public var height = 384
    public var doResize = true
    public var doRescale = true
    /// Kept in double: transformers multiplies the 8-bit values in float64 before rounding.
    public var rescaleFactor = 1.0 / 255.0
    public var doNormalize = true
    public var mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public var std: [Float] = [0.26862954, 0.26130258, 0.27577711]

    public init() {}
}

/// Generation settings the checkpoint ships (generation_config.json).
public struct GenerationDefaults: Sendable, Equatable {
    /// Any of these ends generation; 50118 ("\n") for blip2-opt-2.7b.
    public var eosTokenIds = [2]

    public init() {}
}

/// What a BLIP-2 file holds besides the vision tower and the Q-Former's queries. The raw
/// value is the file's `blip2.text.architecture`: what reads text.
public enum ModelFamily: String, Sendable, Equatable, CaseIterable {
    /// Blip2ForConditionalGeneration with OPT: captions and answers.
    case opt
    /// Blip2ForImageTextRetrieval: the Q-Former's own text side, ITC and ITM heads.
    case retrieval = "qformer"
    /// Blip2ForConditionalGeneration with FlanT5: captions and answers from an encoder-decoder.
    case t5
}

public struct BLIP2Config: Sendable, Equatable {
    public var family = ModelFamily.opt
    public var vision = VisionConfig()
    public var qformer = QFormerConfig()
    public var text = TextConfig()
    public var t5 = T5Config()
    public var queryTokenCount = 32
    /// Width of the retrieval features (`image_text_hidden_size`).
    public var imageTextHiddenSize = 256
    /// Id of `<image>`, whose embeddings the projected queries replace.
    public var imageTokenIndex = 50265
    public var image = ImagePreprocessing()
    public var generation = GenerationDefaults()

    public init() {}

    /// The language model's width, which the Q-Former's queries are projected to.
    public var languageHiddenSize: Int { family == .t5 ? t5.hiddenSize : text.hiddenSize }
    /// Rows of the language model's token embedding.
    public var languageVocabSize: Int { family == .t5 ? t5.vocabSize : text.vocabSize }
}
