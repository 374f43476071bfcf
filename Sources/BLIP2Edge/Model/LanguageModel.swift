/// The OPT decoder (transformers' OPTForCausalLM, pre-LayerNorm): learned positions looked
/// up at `position + 2`, blocks of causal self-attention with the query scaled by
/// head_dim^-0.5 and a ReLU feed-forward, a final LayerNorm, and the LM head tied to the
/// token embedding. Keys and values are cached, so each new token costs one pass over the
/// weights; scratch and caches are sized at creation (the kernels still allocate their small
/// quantized-activation buffers per matmul).
final class LanguageModel: TokenDecoder {
    // MARK: Weights (checkpoint `language_model.model.decoder.*`, file `t.*`)

    struct Block {
        let attentionNorm: LayerNorm    // self_attn_layer_norm [hidden]
        let q, k, v, out: Linear        // self_attn.{q,k,v,out}_proj [hidden, hidden]
        let ffnNorm: LayerNorm          // final_layer_norm [hidden]
        let fc1: Linear                 // [ffn, hidden]
        let fc2: Linear                 // [hidden, ffn]

        init(_ w: WeightScope, _ c: TextConfig) throws {
            let d = c.hiddenSize, a = w.scope("self_attn")
            attentionNorm = try w.layerNorm("self_attn_layer_norm", d, eps: c.layerNormEps)
            q = try a.linear("q_proj", out: d, in: d)
            k = try a.linear("k_proj", out: d, in: d)
            v = try a.linear("v_proj", out: d, in: d)
            out = try a.linear("out_proj", out: d, in: d)
            ffnNorm = try w.layerNorm("final_layer_norm", d, eps: c.layerNormEps)
            fc1 = try w.linear("fc1", out: c.ffnDim, in: d)
            fc2 = try w.linear("fc2", out: d, in: c.ffnDim)
        }
    }

    struct Weights {
        let embedTokens: Weight                 // embed_tokens [vocab, hidden], also the LM head
        let positions: UnsafePointer<Float>     // embed_positions [max positions + 2, hidden]
        let blocks: [Block]                     // layers.i
        let finalNorm: LayerNorm                // final_layer_norm [hidden]

        init(_ w: WeightScope, _ c: TextConfig) throws {
            let d = c.hiddenSize
            embedTokens = try w.tokenEmbedding("embed_tokens.weight", vocab: c.vocabSize, hidden: d)
            positions = try w.floats("embed_positions.weight", [c.maxPositionEmbeddings + TextConfig.positionOffset, d])
            blocks = try (0..<c.layerCount).map { try Block(w.scope("layers.\($0)"), c) }
            finalNorm = try w.layerNorm("final_layer_norm", d, eps: c.layerNormEps)
        }

        var lmHead: Linear { Linear(weight: embedTokens, bias: nil, name: "LM head") }
    }

    let config: TextConfig
    let weights: Weights
    let maxBatch: Int
    private let lmHead: Linear
    private let x, h, q, k, context, ffn: Buffer
    private let attention: Attention

    /// `maxBatch`: the most rows one call runs (the prefix, or one token per beam).
    init(_ weights: Weights, _ config: TextConfig, maxBatch: Int, _ arena: ScratchArena) {
        self.config = config
        self.weights = weights
        self.maxBatch = maxBatch
        lmHead = weights.lmHead
        let d = config.hiddenSize
        x = arena.buffer(maxBatch * d)
        h = arena.buffer(maxBatch * d)
        q = arena.buffer(maxBatch * d)
        k = arena.buffer(maxBatch * d)
        context = arena.buffer(maxBatch * d)
        ffn = arena.buffer(maxBatch * config.ffnDim)
        attention = Attention(heads: config.headCount, headDim: config.headDim, causal: true, name: "OPT attention")
    }

    var vocabSize: Int { config.vocabSize }
    var embeddingWidth: Int { config.hiddenSize }

    func makeCache(capacity: Int, halfPrecision: Bool) -> KVCache {
        KVCache(layers: config.layerCount, capacity: min(capacity, config.maxPositionEmbeddings), width: config.hiddenSize,
                halfPrecision: halfPrecision)
    }

    /// The embedding of a token id (a dequantized row of the tied embedding).
    func embed(token: Int, into out: UnsafeMutablePointer<Float>) {
        let e = weights.embedTokens
        let rowBytes = e.type.rowBytes(config.hiddenSize) ?? 0
        Kernels.toFloat(e.type, row: e.data + token * rowBytes, into: out, count: config.hiddenSize)
    }

    /// Rows are grouped by sequence: rows [i * rowsPerCache, (i + 1) * rowsPerCache) belong to
    /// caches[i] and take its next positions. Scratch is preallocated.
    func forward(_ inputs: UnsafePointer<Float>, caches: [KVCache], rowsPerCache: Int, logits: UnsafeMutablePointer<Float>,
                 allRows: Bool, pool: ThreadPool) throws {
        let d = config.hiddenSize, w = weights
        let count = caches.count * rowsPerCache
        try checkBatch(caches, rowsPerCache: rowsPerCache)
        x.pointer.update(from: inputs, count: count * d)
        for (i, cache) in caches.enumerated() {
            Kernels.add(w.positions + (cache.length + TextConfig.positionOffset) * d, to: x.pointer + i * rowsPerCache * d,
                        count: rowsPerCache * d)
        }
        for (l, b) in w.blocks.enumerated() {
            b.attentionNorm(x.const, rows: count, into: h.pointer)
            // The values go to `context` first: they are cached before attention overwrites it.
            try Linear.apply(h.const, rows: count, (b.q, q.pointer), (b.k, k.pointer), (b.v, context.pointer), pool: pool)
            try attention.overCaches(caches, layer: l, rowsPerCache: rowsPerCache, width: d, q: q.const, k: k.const,
                                     v: context.const, into: context.pointer, pool: pool)
            try b.out(context.const, rows: count, into: h.pointer, pool: pool)
            Kernels.add(h.const, to: x.pointer, count: count * d)
            b.ffnNorm(x.const, rows: count, into: h.pointer)
            try b.fc1(h.const, rows: count, into: ffn.pointer, pool: pool)
            Kernels.relu(ffn.pointer, count: count * config.ffnDim)
            try b.fc2(ffn.const, rows: count, into: h.pointer, pool: pool)
            Kernels.add(h.const, to: x.pointer, count: count * d)
        }
        for cache in caches { cache.length += rowsPerCache }
        // Logits for every row, or for the last row of the (single) sequence.
        let first = allRows ? 0 : count - 1
        let rows = count - first
        w.finalNorm(x.const + first * d, rows: rows, into: h.pointer)
        try lmHead(h.const, rows: rows, into: logits, pool: pool)
    }
}
