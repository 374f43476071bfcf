import CKernels

/// EVA ViT-G/14 (transformers' Blip2VisionModel): patch embedding, class token, learned
/// positions, pre-LayerNorm blocks with fused qkv, exact-GELU MLP, post-LayerNorm.
/// All tokens go through each matmul together, so the weights are read once per layer.
final class VisionEncoder {
    struct Block {
        let norm1, norm2: LayerNorm
        let qkv, projection, fc1, fc2: Linear
    }

    let config: VisionConfig
    let patchEmbedding: Linear
    let classEmbedding: UnsafePointer<Float>   // [hidden]
    let positions: UnsafePointer<Float>        // [tokens, hidden]
    let blocks: [Block]
    let postNorm: LayerNorm

    // Scratch, sized once from the configuration.
    private let patches, x, h, qkv, context, mlp: Buffer

    init(_ model: ModelFile) {
        let c = model.config.vision
        config = c
        let p = "vision_model."
        patchEmbedding = Linear(model, p + "embeddings.patch_embedding")
        classEmbedding = model.floats(p + "embeddings.class_embedding")
        positions = model.floats(p + "embeddings.position_embedding")
        blocks = (0..<c.layerCount).map { i in
            let b = p + "encoder.layers.\(i)."
            return Block(norm1: LayerNorm(model, b + "layer_norm1", eps: c.layerNormEps),
                         norm2: LayerNorm(model, b + "layer_norm2", eps: c.layerNormEps),
                         qkv: Linear(model, b + "self_attn.qkv"), projection: Linear(model, b + "self_attn.projection"),
                         fc1: Linear(model, b + "mlp.fc1"), fc2: Linear(model, b + "mlp.fc2"))
        }
        postNorm = LayerNorm(model, p + "post_layernorm", eps: c.layerNormEps)
        let n = c.tokenCount, d = c.hiddenSize
        patches = Buffer((n - 1) * 3 * c.patchSize * c.patchSize)
        x = Buffer(n * d)
        h = Buffer(n * d)
        qkv = Buffer(n * 3 * d)
        context = Buffer(n * d)
        mlp = Buffer(n * c.intermediateSize)
    }

    var outputCount: Int { config.tokenCount * config.hiddenSize }

    /// pixels: [3, imageSize, imageSize] channel-planar, normalized. Writes the image
    /// embeddings [tokens, hidden] (after post_layernorm) to `output`.
    func encode(pixels: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        let c = config, n = c.tokenCount, d = c.hiddenSize
        let s = c.imageSize, p = c.patchSize, g = c.gridSize
        // im2col: one row per patch in raster order, columns in the conv weight's (c, y, x) order.
        let k = 3 * p * p
        for gy in 0..<g {
            for gx in 0..<g {
                let row = patches.pointer + (gy * g + gx) * k
                for ch in 0..<3 {
                    for ky in 0..<p {
                        let src = pixels + ch * s * s + (gy * p + ky) * s + gx * p
                        (row + ch * p * p + ky * p).update(from: src, count: p)
                    }
                }
            }
        }
        try patchEmbedding(patches.const, rows: n - 1, into: x.pointer + d, pool: pool)
        x.pointer.update(from: classEmbedding, count: d)
        addInPlace(x.pointer, positions, count: n * d)

        for b in blocks {
            b.norm1(x.const, rows: n, dim: d, into: h.pointer)
            try b.qkv(h.const, rows: n, into: qkv.pointer, pool: pool)
            try attention(q: qkv.const, ldq: 3 * d, k: UnsafeRawPointer(qkv.pointer + d), ldk: 3 * d,
                          v: UnsafeRawPointer(qkv.pointer + 2 * d), ldv: 3 * d, into: context.pointer, ldo: d,
                          queries: n, keys: n, heads: c.headCount, headDim: c.headDim, causal: false, pool: pool,
                          what: "vision attention")
            try b.projection(context.const, rows: n, into: h.pointer, pool: pool)
            addInPlace(x.pointer, h.const, count: n * d)
            b.norm2(x.const, rows: n, dim: d, into: h.pointer)
            try b.fc1(h.const, rows: n, into: mlp.pointer, pool: pool)
            ck_gelu(mlp.const, mlp.pointer, n * c.intermediateSize)
            try b.fc2(mlp.const, rows: n, into: h.pointer, pool: pool)
            addInPlace(x.pointer, h.const, count: n * d)
        }
        postNorm(x.const, rows: n, dim: d, into: output)
    }
}
