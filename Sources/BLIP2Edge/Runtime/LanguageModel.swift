import CKernels

/// The OPT decoder (transformers' OPTForCausalLM, pre-LayerNorm): learned positions looked
/// up at `position + 2`, blocks of causal self-attention with the query scaled by
/// head_dim^-0.5 and a ReLU feed-forward, a final LayerNorm, and the LM head tied to the
/// token embedding. Keys and values are cached, so each new token costs one pass over the
/// weights; scratch and caches are sized at creation (the kernels still allocate their small
/// quantized-activation buffers per matmul).
final class LanguageModel {
    struct Block {
        let attentionNorm, ffnNorm: LayerNorm
        let q, k, v, out, fc1, fc2: Linear
    }

    let config: TextConfig
    let embedTokens: Weight                 // [vocab, hidden], also the LM head
    let positions: UnsafePointer<Float>     // [maxPositions + 2, hidden]
    let blocks: [Block]
    let finalNorm: LayerNorm
    let maxBatch: Int

    private let x, h, q, k, context, ffn: Buffer
    /// Store keys and values in F16 (half the memory; see `Session.lowRAM`).
    var halfPrecisionCache = false

    /// `maxBatch`: the most rows one call runs (the prefix, or one token per beam).
    init(_ model: ModelFile, maxBatch: Int) {
        let c = model.config.text
        config = c
        self.maxBatch = maxBatch
        let p = "language_model.model.decoder."
        embedTokens = model.weight(p + "embed_tokens.weight")
        positions = model.floats(p + "embed_positions.weight")
        blocks = (0..<c.layerCount).map { i in
            let b = p + "layers.\(i)."
            return Block(attentionNorm: LayerNorm(model, b + "self_attn_layer_norm", eps: c.layerNormEps),
                         ffnNorm: LayerNorm(model, b + "final_layer_norm", eps: c.layerNormEps),
                         q: Linear(model, b + "self_attn.q_proj"), k: Linear(model, b + "self_attn.k_proj"),
                         v: Linear(model, b + "self_attn.v_proj"), out: Linear(model, b + "self_attn.out_proj"),
                         fc1: Linear(model, b + "fc1"), fc2: Linear(model, b + "fc2"))
        }
        finalNorm = LayerNorm(model, p + "final_layer_norm", eps: c.layerNormEps)
        let d = c.hiddenSize
        x = Buffer(maxBatch * d)
        h = Buffer(maxBatch * d)
        q = Buffer(maxBatch * d)
        k = Buffer(maxBatch * d)
        context = Buffer(maxBatch * d)
        ffn = Buffer(maxBatch * c.ffnDim)
    }

    var vocabSize: Int { config.vocabSize }

    func makeCache(capacity: Int) -> KVCache {
        KVCache(layers: config.layerCount, capacity: min(capacity, config.maxPositionEmbeddings), width: config.hiddenSize,
                halfPrecision: halfPrecisionCache)
    }

    /// The embedding of a token id (a dequantized row of the tied embedding).
    func embed(token: Int, into out: UnsafeMutablePointer<Float>) {
        let rowBytes = embedTokens.type.rowBytes(config.hiddenSize) ?? 0
        ck_row_to_float(embedTokens.ckType, embedTokens.data + token * rowBytes, out, config.hiddenSize)
    }

    /// Runs `count` input embeddings [count, hidden] of one sequence at its next positions,
    /// appending to its cache. Writes logits for the last row, or for every row when
    /// `allRows` (`logits` must then hold count x vocab).
    func forward(_ inputs: UnsafePointer<Float>, count: Int, cache: KVCache, logits: UnsafeMutablePointer<Float>,
                 allRows: Bool = false, pool: ThreadPool) throws {
        try forward(inputs, caches: [cache], rowsPerCache: count, logits: logits, allRows: allRows, pool: pool)
    }

    /// One token for each of several sequences (beams), as one batch: the weights are read
    /// once for all rows. inputs: [caches.count, hidden]; logits: [caches.count, vocab].
    func step(_ inputs: UnsafePointer<Float>, caches: [KVCache], logits: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        try forward(inputs, caches: caches, rowsPerCache: 1, logits: logits, allRows: true, pool: pool)
    }

    /// Rows are grouped by sequence: rows [i * rowsPerCache, (i + 1) * rowsPerCache) belong to
    /// caches[i] and take its next positions. Scratch is preallocated.
    func forward(_ inputs: UnsafePointer<Float>, caches: [KVCache], rowsPerCache: Int, logits: UnsafeMutablePointer<Float>,
                         allRows: Bool, pool: ThreadPool) throws {
        let d = config.hiddenSize
        let count = caches.count * rowsPerCache
        guard count >= 1, count <= maxBatch else {
            throw RuntimeError.invalidInput("\(count) rows in one call; the model was set up for \(maxBatch)")
        }
        for cache in caches where cache.length + rowsPerCache > cache.capacity {
            throw RuntimeError.invalidInput("the sequence (\(cache.length + rowsPerCache) tokens) is longer than the model's context of \(cache.capacity)")
        }
        x.pointer.update(from: inputs, count: count * d)
        for (i, cache) in caches.enumerated() {
            addInPlace(x.pointer + i * rowsPerCache * d, positions + (cache.length + TextConfig.positionOffset) * d, count: rowsPerCache * d)
        }
        let headDim = config.headDim
        for (l, b) in blocks.enumerated() {
            b.attentionNorm(x.const, rows: count, dim: d, into: h.pointer)
            try Linear.apply(h.const, rows: count, (b.q, q.pointer), (b.k, k.pointer), (b.v, context.pointer), pool: pool)
            for (i, cache) in caches.enumerated() {
                cache.append(layer: l, keys: k.const + i * rowsPerCache * d, values: context.const + i * rowsPerCache * d,
                             rows: rowsPerCache)
            }
            for (i, cache) in caches.enumerated() {
                try attention(q: q.const + i * rowsPerCache * d, ldq: d, k: cache.keys(layer: l), ldk: d,
                              v: cache.values(layer: l), ldv: d, kvType: cache.kernelType,
                              into: context.pointer + i * rowsPerCache * d, ldo: d, queries: rowsPerCache,
                              keys: cache.length + rowsPerCache, heads: config.headCount, headDim: headDim, causal: true,
                              pool: pool, what: "OPT attention")
            }
            try b.out(context.const, rows: count, into: h.pointer, pool: pool)
            addInPlace(x.pointer, h.const, count: count * d)
            b.ffnNorm(x.const, rows: count, dim: d, into: h.pointer)
            try b.fc1(h.const, rows: count, into: ffn.pointer, pool: pool)
            ck_relu(ffn.const, ffn.pointer, count * config.ffnDim)
            try b.fc2(ffn.const, rows: count, into: h.pointer, pool: pool)
            addInPlace(x.pointer, h.const, count: count * d)
        }
        for cache in caches { cache.length += rowsPerCache }
        // Logits for every row, or for the last row of the (single) sequence.
        let first = allRows ? 0 : count - 1
        let rows = count - first
        finalNorm(x.const + first * d, rows: rows, dim: d, into: h.pointer)
        let rc = ck_matmul(pool.handle, embedTokens.ckType, embedTokens.data, h.const, nil, logits,
                           Int32(rows), Int32(config.vocabSize), Int32(d))
        if rc != 0 { throw RuntimeError.kernelRejected(what: "LM head") }
    }
}
