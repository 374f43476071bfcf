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
}

public struct BLIP2Config: Sendable, Equatable {
    public var family = ModelFamily.opt
    public var vision = VisionConfig()
    public var qformer = QFormerConfig()
    public var text = TextConfig()
    public var queryTokenCount = 32
    /// Width of the retrieval features (`image_text_hidden_size`).
    public var imageTextHiddenSize = 256
    /// Id of `<image>`, whose embeddings the projected queries replace.
    public var imageTokenIndex = 50265
    public var image = ImagePreprocessing()
    public var generation = GenerationDefaults()

    public init() {}
}
