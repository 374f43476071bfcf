/// The Q-Former (transformers' Blip2QFormerModel as Blip2ForConditionalGeneration uses it):
/// the learned queries through an input LayerNorm, then BERT-style post-LayerNorm layers of
/// self-attention, cross-attention to the image (every `cross_attention_frequency`-th layer)
/// and the query feed-forward; then `language_projection` into the language model's space.
final class QFormer {
    // MARK: Weights (checkpoint `query_tokens`, `qformer.*`, `language_projection.*`)

    /// attention.* or crossattention.*: q, k, v, the output projection and its LayerNorm.
    struct AttentionWeights {
        let query, key, value: Linear   // attention.{query,key,value} [hidden, hidden or encoder hidden]
        let dense: Linear               // output.dense [hidden, hidden]
        let norm: LayerNorm             // output.LayerNorm [hidden]

        init(_ w: WeightScope, _ c: QFormerConfig, keyWidth: Int) throws {
            let d = c.hiddenSize, a = w.scope("attention")
            query = try a.linear("query", out: d, in: d)
            key = try a.linear("key", out: d, in: keyWidth)
            value = try a.linear("value", out: d, in: keyWidth)
            dense = try w.linear("output.dense", out: d, in: d)
            norm = try w.layerNorm("output.LayerNorm", d, eps: c.layerNormEps)
        }
    }

    struct Layer {
        let selfAttention: AttentionWeights
        let crossAttention: AttentionWeights?
        let intermediate: Linear        // intermediate_query.dense [intermediate, hidden]
        let output: Linear              // output_query.dense [hidden, intermediate]
        let outputNorm: LayerNorm       // output_query.LayerNorm [hidden]

        /// `imageWidth`: what cross-attention reads (transformers forces encoder_hidden_size to
        /// the vision width whatever config.json says).
        init(_ w: WeightScope, _ c: QFormerConfig, index: Int, imageWidth: Int) throws {
            let d = c.hiddenSize
            selfAttention = try AttentionWeights(w.scope("attention"), c, keyWidth: d)
            crossAttention = c.hasCrossAttention(layer: index)
                ? try AttentionWeights(w.scope("crossattention"), c, keyWidth: imageWidth) : nil
            intermediate = try w.linear("intermediate_query.dense", out: c.intermediateSize, in: d)
            output = try w.linear("output_query.dense", out: d, in: c.intermediateSize)
            outputNorm = try w.layerNorm("output_query.LayerNorm", d, eps: c.layerNormEps)
        }
    }

    struct Weights {
        let queryTokens: UnsafePointer<Float>   // query_tokens [1, queries, hidden]
        let inputNorm: LayerNorm                // qformer.layernorm [hidden]
        let layers: [Layer]                     // qformer.encoder.layer.i
        let projection: Linear                  // language_projection [text hidden, hidden]

        init(_ w: WeightScope, _ c: BLIP2Config) throws {
            let q = c.qformer, qf = w.scope("qformer", file: "qf")
            queryTokens = try w.floats("query_tokens", [1, c.queryTokenCount, q.hiddenSize])
            inputNorm = try qf.layerNorm("layernorm", q.hiddenSize, eps: q.layerNormEps)
            layers = try (0..<q.layerCount).map {
                try Layer(qf.scope("encoder.layer.\($0)"), q, index: $0, imageWidth: c.vision.hiddenSize)
            }
            projection = try w.scope("language_projection", file: "proj").linear("", out: c.text.hiddenSize, in: q.hiddenSize)
        }
    }

    let config: QFormerConfig
    let weights: Weights
    let queryCount: Int
    private let imageTokens: Int
    private let h, q, k, v, context, t, ffn: Buffer
    private let attention: Attention

    init(_ weights: Weights, _ config: BLIP2Config, _ arena: ScratchArena) {
        self.config = config.qformer
        self.weights = weights
        queryCount = config.queryTokenCount
        imageTokens = config.vision.tokenCount
        let c = config, nq = c.queryTokenCount, d = c.qformer.hiddenSize, keys = max(nq, c.vision.tokenCount)
        h = arena.buffer(nq * d)
        q = arena.buffer(nq * d)
        k = arena.buffer(keys * d)
        v = arena.buffer(keys * d)
        context = arena.buffer(nq * d)
        t = arena.buffer(nq * d)
        ffn = arena.buffer(nq * c.qformer.intermediateSize)
        attention = Attention(heads: config.qformer.headCount, headDim: config.qformer.headDim, causal: false,
                              name: "Q-Former attention")
    }

    var outputCount: Int { queryCount * weights.projection.outFeatures }

    /// The last hidden state [queries, hidden] of the latest `run`, before the projection.
    var lastHiddenState: [Float] { Array(UnsafeBufferPointer(start: h.const, count: queryCount * config.hiddenSize)) }

    /// image: [imageTokens, encoderHidden] -> projected queries [queries, text hidden].
    func run(image: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        let nq = queryCount, d = config.hiddenSize
        weights.inputNorm(weights.queryTokens, rows: nq, into: h.pointer)
        for layer in weights.layers {
            try attend(layer.selfAttention, keysFrom: h.const, keyCount: nq, pool: pool)
            if let cross = layer.crossAttention {
                try attend(cross, keysFrom: image, keyCount: imageTokens, pool: pool)
            }
            try layer.intermediate(h.const, rows: nq, into: ffn.pointer, pool: pool)
            Kernels.gelu(ffn.pointer, count: nq * config.intermediateSize)
            try layer.output(ffn.const, rows: nq, into: t.pointer, pool: pool)
            Kernels.add(h.const, to: t.pointer, count: nq * d)
            layer.outputNorm(t.const, rows: nq, into: h.pointer)
        }
        try weights.projection(h.const, rows: nq, into: output, pool: pool)
    }

    /// h = LayerNorm(h + dense(attention(q = h, k = v = source))).
    private func attend(_ a: AttentionWeights, keysFrom source: UnsafePointer<Float>, keyCount: Int, pool: ThreadPool) throws {
        let nq = queryCount, d = config.hiddenSize
        if source == h.const { // self-attention: q, k and v of one input in one call
            try Linear.apply(source, rows: nq, (a.query, q.pointer), (a.key, k.pointer), (a.value, v.pointer), pool: pool)
        } else {
            try a.query(h.const, rows: nq, into: q.pointer, pool: pool)
            try Linear.apply(source, rows: keyCount, (a.key, k.pointer), (a.value, v.pointer), pool: pool)
        }
        try attention(q: TokenRows(q.const, stride: d), k: TokenRows(k.const, stride: d), v: TokenRows(v.const, stride: d),
                      queries: nq, keys: keyCount, into: context.pointer, outStride: d, pool: pool)
        try a.dense(context.const, rows: nq, into: t.pointer, pool: pool)
        Kernels.add(h.const, to: t.pointer, count: nq * d)
        a.norm(t.const, rows: nq, into: h.pointer)
    }
}
