/// T5's encoder stack over the BLIP-2 input [projected queries, prompt token embeddings]:
/// pre-norm blocks of bidirectional self-attention (relative position bias from block 0,
/// no score scaling) and a gated feed-forward, then a final RMS norm. Runs once per prompt.
final class T5Encoder {
    let config: T5Config
    let weights: T5Weights.Encoder
    let maxRows: Int
    private let x, h, y, q, k, v, context, gate, up, bias: Buffer
    private let attention: Attention
    private let positions: RelativePositionBias

    /// `maxRows`: the longest input (queries and prompt).
    init(_ weights: T5Weights.Encoder, _ config: T5Config, maxRows: Int, _ arena: ScratchArena) {
        self.config = config
        self.weights = weights
        self.maxRows = maxRows
        let d = config.hiddenSize, inner = config.innerDim
        x = arena.buffer(maxRows * d)
        h = arena.buffer(maxRows * d)
        y = arena.buffer(maxRows * d)
        q = arena.buffer(maxRows * inner)
        k = arena.buffer(maxRows * inner)
        v = arena.buffer(maxRows * inner)
        context = arena.buffer(maxRows * inner)
        gate = arena.buffer(maxRows * config.ffnDim)
        up = arena.buffer(maxRows * config.ffnDim)
        bias = arena.buffer(config.headCount * maxRows * maxRows)
        attention = Attention(heads: config.headCount, headDim: config.headDim, causal: false, name: "T5 encoder attention",
                              unscaled: true)
        positions = RelativePositionBias(table: weights.relativeBias, buckets: config.relativeBuckets,
                                         maxDistance: config.relativeMaxDistance, heads: config.headCount, bidirectional: true)
    }

    /// inputs [rows, d] -> out [rows, d] (the encoder's last hidden state).
    func encode(_ inputs: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        guard rows >= 1, rows <= maxRows else {
            throw RuntimeError.invalidInput("\(rows) encoder rows; the session was set up for \(maxRows)")
        }
        let d = config.hiddenSize, inner = config.innerDim
        x.pointer.update(from: inputs, count: rows * d)
        positions.fill(bias.pointer, firstQuery: 0, queries: rows, keys: rows)
        for b in weights.blocks {
            b.attentionNorm(x.const, rows: rows, into: h.pointer)
            let a = b.attention
            try Linear.apply(h.const, rows: rows, (a.q, q.pointer), (a.k, k.pointer), (a.v, v.pointer), pool: pool)
            try attention(q: TokenRows(q.const, stride: inner), k: TokenRows(k.const, stride: inner),
                          v: TokenRows(v.const, stride: inner), queries: rows, keys: rows,
                          into: context.pointer, outStride: inner, bias: bias.const, pool: pool)
            try a.o(context.const, rows: rows, into: h.pointer, pool: pool)
            Kernels.add(h.const, to: x.pointer, count: rows * d)
            b.ffnNorm(x.const, rows: rows, into: h.pointer)
            try b.ffn(h.const, rows: rows, activation: config.activation, gate: gate.pointer, up: up.pointer,
                      into: y.pointer, pool: pool)
            Kernels.add(y.const, to: x.pointer, count: rows * d)
        }
        weights.finalNorm(x.const, rows: rows, into: out)
    }
}
