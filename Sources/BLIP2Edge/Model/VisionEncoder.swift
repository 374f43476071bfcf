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

    // MARK: Scratch

    struct Scratch {
        let patches, x, h, qkv, context, mlp: Buffer

        init(_ c: VisionConfig, _ arena: ScratchArena) {
            let n = c.tokenCount, d = c.hiddenSize
            patches = arena.buffer((n - 1) * 3 * c.patchSize * c.patchSize)
            x = arena.buffer(n * d)
            h = arena.buffer(n * d)
            qkv = arena.buffer(n * 3 * d)
            context = arena.buffer(n * d)
            mlp = arena.buffer(n * c.intermediateSize)
        }
    }

    let config: VisionConfig
    let weights: Weights
    private let s: Scratch
    private let attention: Attention

    init(_ weights: Weights, _ config: VisionConfig, _ arena: ScratchArena) {
        self.config = config
        self.weights = weights
        s = Scratch(config, arena)
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
                let row = s.patches.pointer + (gy * g + gx) * k
                for ch in 0..<3 {
                    for ky in 0..<p {
                        let src = pixels + ch * size * size + (gy * p + ky) * size + gx * p
                        (row + ch * p * p + ky * p).update(from: src, count: p)
                    }
                }
            }
        }
        try w.patchEmbedding(s.patches.const, rows: n - 1, into: s.x.pointer + d, pool: pool)
        s.x.pointer.update(from: w.classEmbedding, count: d)
        Kernels.add(w.positions, to: s.x.pointer, count: n * d)

        let qkv = s.qkv.const
        for b in w.blocks {
            b.norm1(s.x.const, rows: n, into: s.h.pointer)
            try b.qkv(s.h.const, rows: n, into: s.qkv.pointer, pool: pool)
            try attention(q: TokenRows(qkv, stride: 3 * d), k: TokenRows(qkv + d, stride: 3 * d),
                          v: TokenRows(qkv + 2 * d, stride: 3 * d), queries: n, keys: n,
                          into: s.context.pointer, outStride: d, pool: pool)
            try b.projection(s.context.const, rows: n, into: s.h.pointer, pool: pool)
            Kernels.add(s.h.const, to: s.x.pointer, count: n * d)
            b.norm2(s.x.const, rows: n, into: s.h.pointer)
            try b.fc1(s.h.const, rows: n, into: s.mlp.pointer, pool: pool)
            Kernels.gelu(s.mlp.pointer, count: n * c.intermediateSize)
            try b.fc2(s.mlp.const, rows: n, into: s.h.pointer, pool: pool)
            Kernels.add(s.h.const, to: s.x.pointer, count: n * d)
        }
        w.postNorm(s.x.const, rows: n, into: output)
    }
}
