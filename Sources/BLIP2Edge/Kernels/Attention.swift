import CKernels

/// Multi-head dot-product attention as a tower runs it: bidirectional (ViT, Q-Former, T5's
/// encoder and cross-attention), or causal over a KV cache (OPT, T5's decoder: the queries are
/// the last `queries` of `keys` positions). Scores are scaled by head_dim^-0.5, except in T5,
/// which folds the scaling into its weights (`unscaled`).
struct Attention {
    let heads: Int
    let headDim: Int
    let causal: Bool
    /// What runs it, for error messages.
    let name: String
    var unscaled = false

    /// `bias`: an additive term per head, [heads, queries, keys] (T5's relative positions).
    func callAsFunction(q: TokenRows, k: TokenRows, v: TokenRows, queries: Int, keys: Int,
                        into out: UnsafeMutablePointer<Float>, outStride: Int, bias: UnsafePointer<Float>? = nil,
                        pool: ThreadPool) throws {
        precondition(!q.half && k.half == v.half, "attention: queries are F32, keys and values of one type")
        var p = ck_attention_params(q: q.base.assumingMemoryBound(to: Float.self), ldq: Int32(q.stride), k: k.base,
                                    ldk: Int32(k.stride), v: v.base, ldv: Int32(v.stride),
                                    kv_type: k.half ? CK_TYPE_F16 : CK_TYPE_F32, o: out, ldo: Int32(outStride),
                                    n_q: Int32(queries), n_kv: Int32(keys), n_heads: Int32(heads), head_dim: Int32(headDim),
                                    scale: unscaled ? 1 : 1 / Float(headDim).squareRoot(), mask: bias,
                                    causal: causal ? 1 : 0, mask_head_stride: bias == nil ? 0 : queries * keys)
        guard ck_attention(pool.handle, &p) == 0 else { throw RuntimeError.kernelRejected(what: name) }
    }
}

/// Rows of [tokens, heads x headDim] values `stride` elements apart: a slice of a fused
/// projection's output, or a KV cache's keys or values (F32, or F16 when `half`).
struct TokenRows {
    let base: UnsafeRawPointer
    let stride: Int
    let half: Bool

    init(_ base: UnsafeRawPointer, stride: Int, half: Bool) {
        self.base = base
        self.stride = stride
        self.half = half
    }

    init(_ floats: UnsafePointer<Float>, stride: Int) {
        self.init(UnsafeRawPointer(floats), stride: stride, half: false)
    }
}
