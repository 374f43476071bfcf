import CKernels

/// The Q-Former (transformers' Blip2QFormerModel as Blip2ForConditionalGeneration uses it):
/// the learned queries through an input LayerNorm, then BERT-style post-LayerNorm layers of
/// self-attention, cross-attention to the image (every `cross_attention_frequency`-th layer)
/// and the query feed-forward; then `language_projection` into OPT's embedding space.
final class QFormer {
    struct Attention {
        let query, key, value, dense: Linear
        let norm: LayerNorm
    }

    struct Layer {
        let selfAttention: Attention
        let crossAttention: Attention?
        let intermediate, output: Linear
        let outputNorm: LayerNorm
    }

    let config: QFormerConfig
    let queryCount: Int
    let queryTokens: UnsafePointer<Float>   // [queries, hidden]
    let inputNorm: LayerNorm
    let layers: [Layer]
    let projection: Linear

    private let h, q, k, v, context, t, ffn: Buffer
    private let imageTokens: Int

    init(_ model: ModelFile) {
        let c = model.config.qformer
        config = c
        queryCount = model.config.queryTokenCount
        imageTokens = model.config.vision.tokenCount
        queryTokens = model.floats("query_tokens")
        inputNorm = LayerNorm(model, "qformer.layernorm", eps: c.layerNormEps)
        func attention(_ p: String) -> Attention {
            Attention(query: Linear(model, p + "attention.query"), key: Linear(model, p + "attention.key"),
                      value: Linear(model, p + "attention.value"), dense: Linear(model, p + "output.dense"),
                      norm: LayerNorm(model, p + "output.LayerNorm", eps: c.layerNormEps))
        }
        layers = (0..<c.layerCount).map { i in
            let p = "qformer.encoder.layer.\(i)."
            return Layer(selfAttention: attention(p + "attention."),
                         crossAttention: c.hasCrossAttention(layer: i) ? attention(p + "crossattention.") : nil,
                         intermediate: Linear(model, p + "intermediate_query.dense"), output: Linear(model, p + "output_query.dense"),
                         outputNorm: LayerNorm(model, p + "output_query.LayerNorm", eps: c.layerNormEps))
        }
        projection = Linear(model, "language_projection")
        let nq = queryCount, d = c.hiddenSize
        h = Buffer(nq * d)
        q = Buffer(nq * d)
        k = Buffer(max(nq, imageTokens) * d)
        v = Buffer(max(nq, imageTokens) * d)
        context = Buffer(nq * d)
        t = Buffer(nq * d)
        ffn = Buffer(nq * c.intermediateSize)
    }

    var outputCount: Int { queryCount * projection.outFeatures }

    /// image: [imageTokens, encoderHidden] -> projected queries [queries, text hidden].
    /// `queryOutput`, when given, receives the Q-Former's last hidden state [queries, hidden].
    func run(image: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>,
             queryOutput: UnsafeMutablePointer<Float>? = nil, pool: ThreadPool) throws {
        let nq = queryCount, d = config.hiddenSize
        inputNorm(queryTokens, rows: nq, dim: d, into: h.pointer)
        for layer in layers {
            try attend(layer.selfAttention, keysFrom: h.const, keyCount: nq, pool: pool)
            if let cross = layer.crossAttention {
                try attend(cross, keysFrom: image, keyCount: imageTokens, pool: pool)
            }
            try layer.intermediate(h.const, rows: nq, into: ffn.pointer, pool: pool)
            ck_gelu(ffn.const, ffn.pointer, nq * config.intermediateSize)
            try layer.output(ffn.const, rows: nq, into: t.pointer, pool: pool)
            addInPlace(t.pointer, h.const, count: nq * d)
            layer.outputNorm(t.const, rows: nq, dim: d, into: h.pointer)
        }
        queryOutput?.update(from: h.const, count: nq * d)
        try projection(h.const, rows: nq, into: output, pool: pool)
    }

    /// h = LayerNorm(h + dense(attention(q = h, k = v = source))).
    private func attend(_ a: Attention, keysFrom source: UnsafePointer<Float>, keyCount: Int, pool: ThreadPool) throws {
        let nq = queryCount, d = config.hiddenSize
        if source == h.const { // self-attention: q, k and v of one input in one call
            try Linear.apply(source, rows: nq, (a.query, q.pointer), (a.key, k.pointer), (a.value, v.pointer), pool: pool)
        } else {
            try a.query(h.const, rows: nq, into: q.pointer, pool: pool)
            try Linear.apply(source, rows: keyCount, (a.key, k.pointer), (a.value, v.pointer), pool: pool)
        }
        try attention(q: q.const, ldq: d, k: UnsafeRawPointer(k.pointer), ldk: d, v: UnsafeRawPointer(v.pointer), ldv: d,
                      into: context.pointer, ldo: d, queries: nq, keys: keyCount, heads: config.headCount,
                      headDim: config.headDim, causal: false, pool: pool, what: "Q-Former attention")
        try a.dense(context.const, rows: nq, into: t.pointer, pool: pool)
        addInPlace(t.pointer, h.const, count: nq * d)
        a.norm(t.const, rows: nq, dim: d, into: h.pointer)
    }
}
