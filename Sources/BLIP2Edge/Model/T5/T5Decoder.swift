/// T5's decoder stack, bound to one encoded input: pre-norm blocks of causal self-attention
/// (relative position bias from block 0, no score scaling, keys and values cached per
/// sequence), cross-attention over the encoder's output (its keys and values computed once
/// per input and shared by every beam) and a gated feed-forward; a final RMS norm and the
/// LM head (after a d^-0.5 scaling only where the configuration asks for it, as T5 v1.0 did).
final class T5Decoder: TokenDecoder {
    let config: T5Config
    let weights: T5Weights.Decoder
    let maxBatch: Int
    let maxEncoderRows: Int
    private let x, h, y, q, k, v, context, gate, up: Buffer
    private let crossKeys, crossValues: [Buffer]
    private(set) var encoderRows = 0
    private let selfAttention, crossAttention: Attention
    private let positions: RelativePositionBias

    init(_ weights: T5Weights.Decoder, _ config: T5Config, maxBatch: Int, maxEncoderRows: Int, _ arena: ScratchArena) {
        self.config = config
        self.weights = weights
        self.maxBatch = maxBatch
        self.maxEncoderRows = maxEncoderRows
        let d = config.hiddenSize, inner = config.innerDim
        x = arena.buffer(maxBatch * d)
        h = arena.buffer(maxBatch * d)
        y = arena.buffer(maxBatch * d)
        q = arena.buffer(maxBatch * inner)
        k = arena.buffer(maxBatch * inner)
        v = arena.buffer(maxBatch * inner)
        context = arena.buffer(maxBatch * inner)
        gate = arena.buffer(maxBatch * config.ffnDim)
        up = arena.buffer(maxBatch * config.ffnDim)
        crossKeys = (0..<config.decoderLayerCount).map { _ in arena.buffer(maxEncoderRows * inner) }
        crossValues = (0..<config.decoderLayerCount).map { _ in arena.buffer(maxEncoderRows * inner) }
        selfAttention = Attention(heads: config.headCount, headDim: config.headDim, causal: true, name: "T5 decoder attention",
                                  unscaled: true)
        crossAttention = Attention(heads: config.headCount, headDim: config.headDim, causal: false,
                                   name: "T5 cross-attention", unscaled: true)
        positions = RelativePositionBias(table: weights.relativeBias, buckets: config.relativeBuckets,
                                         maxDistance: config.relativeMaxDistance, heads: config.headCount, bidirectional: false)
    }

    var vocabSize: Int { config.vocabSize }
    var embeddingWidth: Int { config.hiddenSize }

    func makeCache(capacity: Int, halfPrecision: Bool) -> KVCache {
        KVCache(layers: config.decoderLayerCount, capacity: capacity, width: config.innerDim, halfPrecision: halfPrecision)
    }

    /// A row of the shared embedding (T5 does not scale it).
    func embed(token: Int, into out: UnsafeMutablePointer<Float>) {
        let e = weights.shared
        let rowBytes = e.type.rowBytes(config.hiddenSize) ?? 0
        Kernels.toFloat(e.type, row: e.data + token * rowBytes, into: out, count: config.hiddenSize)
    }

    /// Computes every layer's cross-attention keys and values from the encoder's output
    /// [rows, d]; the generations that follow attend to it.
    func attend(to encoderOutput: UnsafePointer<Float>, rows: Int, pool: ThreadPool) throws {
        guard rows >= 1, rows <= maxEncoderRows else {
            throw RuntimeError.invalidInput("\(rows) encoder rows; the session was set up for \(maxEncoderRows)")
        }
        for (l, b) in weights.blocks.enumerated() {
            try Linear.apply(encoderOutput, rows: rows, (b.cross.k, crossKeys[l].pointer), (b.cross.v, crossValues[l].pointer),
                             pool: pool)
        }
        encoderRows = rows
    }

    /// Rows are grouped by sequence, as in `LanguageModel.forward`.
    func forward(_ inputs: UnsafePointer<Float>, caches: [KVCache], rowsPerCache: Int, logits: UnsafeMutablePointer<Float>,
                 allRows: Bool, pool: ThreadPool) throws {
        let d = config.hiddenSize, inner = config.innerDim, heads = config.headCount
        let count = caches.count * rowsPerCache
        guard encoderRows > 0 else { throw RuntimeError.invalidInput("the decoder ran before any input was encoded") }
        try checkBatch(caches, rowsPerCache: rowsPerCache)
        // One bias per distinct past length (beams share theirs), for every layer.
        var biases: [Int: Buffer] = [:]
        for cache in caches where biases[cache.length] == nil {
            let keys = cache.length + rowsPerCache
            let b = Buffer(heads * rowsPerCache * keys)
            positions.fill(b.pointer, firstQuery: cache.length, queries: rowsPerCache, keys: keys)
            biases[cache.length] = b
        }
        x.pointer.update(from: inputs, count: count * d)
        for (l, b) in weights.blocks.enumerated() {
            b.attentionNorm(x.const, rows: count, into: h.pointer)
            let a = b.attention
            try Linear.apply(h.const, rows: count, (a.q, q.pointer), (a.k, k.pointer), (a.v, v.pointer), pool: pool)
            try selfAttention.overCaches(caches, layer: l, rowsPerCache: rowsPerCache, width: inner, q: q.const, k: k.const,
                                         v: v.const, into: context.pointer, bias: { biases[$0.length]?.const }, pool: pool)
            try a.o(context.const, rows: count, into: y.pointer, pool: pool)
            Kernels.add(y.const, to: x.pointer, count: count * d)

            b.crossNorm(x.const, rows: count, into: h.pointer)
            try b.cross.q(h.const, rows: count, into: q.pointer, pool: pool)
            try crossAttention(q: TokenRows(q.const, stride: inner), k: TokenRows(crossKeys[l].const, stride: inner),
                               v: TokenRows(crossValues[l].const, stride: inner), queries: count, keys: encoderRows,
                               into: context.pointer, outStride: inner, pool: pool)
            try b.cross.o(context.const, rows: count, into: y.pointer, pool: pool)
            Kernels.add(y.const, to: x.pointer, count: count * d)

            b.ffnNorm(x.const, rows: count, into: h.pointer)
            try b.ffn(h.const, rows: count, activation: config.activation, gate: gate.pointer, up: up.pointer, into: y.pointer,
                      pool: pool)
            Kernels.add(y.const, to: x.pointer, count: count * d)
        }
        for cache in caches { cache.length += rowsPerCache }
        let first = allRows ? 0 : count - 1
        let rows = count - first
        weights.finalNorm(x.const + first * d, rows: rows, into: h.pointer)
        if config.scalesLogits {
            let scale = 1 / Float(d).squareRoot()
            for i in 0..<rows * d { h.pointer[i] *= scale }
        }
        try weights.lmHead(h.const, rows: rows, into: logits, pool: pool)
    }
}
