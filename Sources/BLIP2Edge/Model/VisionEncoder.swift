/// EVA ViT-G/14 (transformers' Blip2VisionModel): patch embedding, class token, learned
/// positions, pre-LayerNorm blocks with fused qkv, exact-GELU MLP, post-LayerNorm.
/// All tokens go through each matmul together, so the weights are read once per layer.
final class VisionEncoder {
    // MARK: Weights (checkpoint `vision_model.*`, file `v.*`)

    struct Block {
        let norm1: LayerNorm       // layer_norm1 [hidden]
        let qkv: Linear            // self_attn.qkv [3 hidden, hidden]
        let projection: Linear     // self_attn.projection [hidden, hidden]
        let norm2: LayerNorm       // layer_norm2 [hidden]
        let fc1: Linear            // mlp.fc1 [intermediate, hidden]
        let fc2: Linear            // mlp.fc2 [hidden, intermediate]

        init(_ w: WeightScope, _ c: VisionConfig) throws {
            let d = c.hiddenSize
            norm1 = try w.layerNorm("layer_norm1", d, eps: c.layerNormEps)
            qkv = try w.linear("self_attn.qkv", out: 3 * d, in: d)
            projection = try w.linear("self_attn.projection", out: d, in: d)
            norm2 = try w.layerNorm("layer_norm2", d, eps: c.layerNormEps)
            fc1 = try w.linear("mlp.fc1", out: c.intermediateSize, in: d)
            fc2 = try w.linear("mlp.fc2", out: d, in: c.intermediateSize)
        }
    }

    struct Weights {
        let classEmbedding: UnsafePointer<Float>   // [1, 1, hidden]
        let patchEmbedding: Linear                 // conv [hidden, 3, p, p]
        let positions: UnsafePointer<Float>        // [1, tokens, hidden]
        let blocks: [Block]                        // encoder.layers.i
        let postNorm: LayerNorm                    // post_layernorm [hidden]

        init(_ w: WeightScope, _ c: VisionConfig) throws {
            let e = w.scope("embeddings"), d = c.hiddenSize
            classEmbedding = try e.floats("class_embedding", [1, 1, d])
            patchEmbedding = try e.patchEmbedding("patch_embedding", out: d, channels: 3, patch: c.patchSize)
            positions = try e.floats("position_embedding", [1, c.tokenCount, d])
            blocks = try (0..<c.layerCount).map { try Block(w.scope("encoder.layers.\($0)"), c) }
            postNorm = try w.layerNorm("post_layernorm", d, eps: c.layerNormEps)
        }
    }

    let config: VisionConfig
    let weights: Weights
    // Scratch, from the arena: counted before a session allocates it.
    private let patches, x, h, qkv, context, mlp: Buffer
    private let attention: Attention

    init(_ weights: Weights, _ config: VisionConfig, _ arena: ScratchArena) {
        self.config = config
        self.weights = weights
        let c = config, n = c.tokenCount, d = c.hiddenSize
        patches = arena.buffer((n - 1) * 3 * c.patchSize * c.patchSize)
        x = arena.buffer(n * d)
        h = arena.buffer(n * d)
        qkv = arena.buffer(n * 3 * d)
        context = arena.buffer(n * d)
        mlp = arena.buffer(n * c.intermediateSize)
        attention = Attention(heads: config.headCount, headDim: config.headDim, causal: false, name: "vision attention")
    }

    var outputCount: Int { config.tokenCount * config.hiddenSize }

    /// pixels: [3, imageSize, imageSize] channel-planar, normalized. Writes the image
    /// embeddings [tokens, hidden] (after post_layernorm) to `output`.
    func encode(pixels: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        let c = config, w = weights, n = c.tokenCount, d = c.hiddenSize
        let size = c.imageSize, p = c.patchSize, g = c.gridSize
        // im2col: one row per patch in raster order, columns in the conv weight's (c, y, x) order.
        let k = 3 * p * p
        for gy in 0..<g {
            for gx in 0..<g {
                let row = patches.pointer + (gy * g + gx) * k
                for ch in 0..<3 {
                    for ky in 0..<p {
                        let src = pixels + ch * size * size + (gy * p + ky) * size + gx * p
                        (row + ch * p * p + ky * p).update(from: src, count: p)
                    }
                }
            }
        }
        try w.patchEmbedding(patches.const, rows: n - 1, into: x.pointer + d, pool: pool)
        x.pointer.update(from: w.classEmbedding, count: d)
        Kernels.add(w.positions, to: x.pointer, count: n * d)

        let fused = qkv.const
        for b in w.blocks {
            b.norm1(x.const, rows: n, into: h.pointer)
            try b.qkv(h.const, rows: n, into: qkv.pointer, pool: pool)
            try attention(q: TokenRows(fused, stride: 3 * d), k: TokenRows(fused + d, stride: 3 * d),
                          v: TokenRows(fused + 2 * d, stride: 3 * d), queries: n, keys: n,
                          into: context.pointer, outStride: d, pool: pool)
            try b.projection(context.const, rows: n, into: h.pointer, pool: pool)
            Kernels.add(h.const, to: x.pointer, count: n * d)
            b.norm2(x.const, rows: n, into: h.pointer)
            try b.fc1(h.const, rows: n, into: mlp.pointer, pool: pool)
            Kernels.gelu(mlp.pointer, count: n * c.intermediateSize)
            try b.fc2(mlp.const, rows: n, into: h.pointer, pool: pool)
            Kernels.add(h.const, to: x.pointer, count: n * d)
        }
        w.postNorm(x.const, rows: n, into: output)
    }
}
