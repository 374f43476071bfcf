/// Multi-head scaled dot-product attention (scale head_dim^-0.5) as a tower runs it:
/// bidirectional (ViT, Q-Former), or causal over a KV cache (OPT: the queries are the last
/// `queries` of `keys` positions).
struct Attention {
    let heads: Int
    let headDim: Int
    let causal: Bool
    /// What runs it, for error messages.
    let name: String

    func callAsFunction(q: TokenRows, k: TokenRows, v: TokenRows, queries: Int, keys: Int,
                        into out: UnsafeMutablePointer<Float>, outStride: Int, pool: ThreadPool) throws {
        try Kernels.attention(q: q, k: k, v: v, into: out, outStride: outStride, queries: queries, keys: keys, heads: heads,
                              headDim: headDim, causal: causal, pool: pool, what: name)
    }
}
