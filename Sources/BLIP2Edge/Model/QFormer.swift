/// The Q-Former (transformers' Blip2QFormerModel): BERT-style post-LayerNorm layers of
/// self-attention, cross-attention to the image (every `cross_attention_frequency`-th layer,
/// for query rows only) and feed-forward, the queries' own or, for text rows, the text one.
/// A captioning model runs the learned queries alone and projects them into the language
/// model's space; a retrieval model also runs text alone (ITC) and queries with text (ITM).
final class QFormer {
    // MARK: Weights (checkpoint `query_tokens`, `qformer.*`, `language_projection.*`, and for
    // retrieval `embeddings.*`, `vision_projection`, `text_projection`, `itm_head`)

    /// attention.* or crossattention.*: q, k, v, the output projection and its LayerNorm.
    struct AttentionWeights {
        let query, key, value: Linear   // attention.{query,key,value} [hidden, hidden or encoder hidden]
        let dense: Linear               // output.dense [hidden, hidden]
        let norm: LayerNorm             // output.LayerNorm [hidden]

        init(_ w: WeightScope, _ c: QFormerConfig, keyWidth: Int) throws {
            let d = c.hiddenSize, a = w.scope("attention")
            query = try a.linear("query", out: d, in: d)
            key = try a.linear("key", out: d, in: keyWidth)
            value = try a.linear("value", out: d, in: keyWidth)
            dense = try w.linear("output.dense", out: d, in: d)
            norm = try w.layerNorm("output.LayerNorm", d, eps: c.layerNormEps)
        }
    }

    /// intermediate{suffix}.dense, GELU, output{suffix}.dense, residual, LayerNorm.
    struct FeedForward {
        let intermediate: Linear        // intermediate{suffix}.dense [intermediate, hidden]
        let output: Linear              // output{suffix}.dense [hidden, intermediate]
        let norm: LayerNorm             // output{suffix}.LayerNorm [hidden]

        init(_ w: WeightScope, _ c: QFormerConfig, suffix: String) throws {
            intermediate = try w.linear("intermediate\(suffix).dense", out: c.intermediateSize, in: c.hiddenSize)
            output = try w.linear("output\(suffix).dense", out: c.hiddenSize, in: c.intermediateSize)
            norm = try w.layerNorm("output\(suffix).LayerNorm", c.hiddenSize, eps: c.layerNormEps)
        }
    }

    struct Layer {
        let selfAttention: AttentionWeights
        let crossAttention: AttentionWeights?
        let queryFeedForward: FeedForward   // *_query
        let textFeedForward: FeedForward?   // retrieval models only

        /// `imageWidth`: what cross-attention reads (transformers forces encoder_hidden_size to
        /// the vision width whatever config.json says).
        init(_ w: WeightScope, _ c: QFormerConfig, index: Int, imageWidth: Int, text: Bool) throws {
            selfAttention = try AttentionWeights(w.scope("attention"), c, keyWidth: c.hiddenSize)
            crossAttention = c.hasCrossAttention(layer: index)
                ? try AttentionWeights(w.scope("crossattention"), c, keyWidth: imageWidth) : nil
            textFeedForward = text ? try FeedForward(w, c, suffix: "") : nil
            queryFeedForward = try FeedForward(w, c, suffix: "_query")
        }
    }

    /// What a retrieval model adds: BERT-style text embeddings (no LayerNorm of their own:
    /// `qformer.layernorm` serves) and the heads of its two scores.
    struct TextSide {
        let wordEmbeddings: Weight              // embeddings.word_embeddings [vocab, hidden]
        let positions: UnsafePointer<Float>     // embeddings.position_embeddings [max positions, hidden]
        let visionProjection: Linear            // vision_projection [image-text hidden, hidden]
        let textProjection: Linear              // text_projection [image-text hidden, hidden]
        let itmHead: Linear                     // itm_head [2, hidden]

        init(embeddings e: WeightScope, heads w: WeightScope, _ c: BLIP2Config) throws {
            let q = c.qformer
            wordEmbeddings = try e.tokenEmbedding("word_embeddings.weight", vocab: q.vocabSize, hidden: q.hiddenSize)
            positions = try e.floats("position_embeddings.weight", [q.maxPositionEmbeddings, q.hiddenSize])
            visionProjection = try w.linear("vision_projection", out: c.imageTextHiddenSize, in: q.hiddenSize)
            textProjection = try w.linear("text_projection", out: c.imageTextHiddenSize, in: q.hiddenSize)
            itmHead = try w.linear("itm_head", out: 2, in: q.hiddenSize)
        }
    }

    struct Weights {
        let queryTokens: UnsafePointer<Float>   // query_tokens [1, queries, hidden]
        let text: TextSide?                     // retrieval
        let inputNorm: LayerNorm                // qformer.layernorm [hidden]
        let layers: [Layer]                     // qformer.encoder.layer.i
        let projection: Linear?                 // language_projection [language hidden, hidden] (captioning)

        init(_ w: WeightScope, _ c: BLIP2Config) throws {
            let q = c.qformer, qf = w.scope("qformer", file: "qf"), retrieval = c.family == .retrieval
            queryTokens = try w.floats("query_tokens", [1, c.queryTokenCount, q.hiddenSize])
            text = retrieval ? try TextSide(embeddings: w.scope("embeddings", file: "qemb"), heads: w, c) : nil
            inputNorm = try qf.layerNorm("layernorm", q.hiddenSize, eps: q.layerNormEps)
            layers = try (0..<q.layerCount).map {
                try Layer(qf.scope("encoder.layer.\($0)"), q, index: $0, imageWidth: c.vision.hiddenSize, text: retrieval)
            }
            projection = retrieval ? nil
                : try w.scope("language_projection", file: "proj").linear("", out: c.languageHiddenSize, in: q.hiddenSize)
        }
    }

    let config: QFormerConfig
    let weights: Weights
    let queryCount: Int
    /// The most text tokens one call may bring (0 for a captioning model).
    let maxTextTokens: Int
    private let imageTokens: Int
    private let h, q, k, v, context, t, ffn: Buffer
    private let attention: Attention

    init(_ weights: Weights, _ config: BLIP2Config, maxTextTokens: Int = 0, _ arena: ScratchArena) {
        self.config = config.qformer
        self.weights = weights
        queryCount = config.queryTokenCount
        self.maxTextTokens = weights.text == nil ? 0 : min(maxTextTokens, config.qformer.maxPositionEmbeddings)
        imageTokens = config.vision.tokenCount
        let c = config, rows = c.queryTokenCount + self.maxTextTokens, d = c.qformer.hiddenSize
        let keys = max(rows, c.vision.tokenCount)
        h = arena.buffer(rows * d)
        q = arena.buffer(rows * d)
        k = arena.buffer(keys * d)
        v = arena.buffer(keys * d)
        context = arena.buffer(rows * d)
        t = arena.buffer(rows * d)
        ffn = arena.buffer(rows * c.qformer.intermediateSize)
        attention = Attention(heads: config.qformer.headCount, headDim: config.qformer.headDim, causal: false,
                              name: "Q-Former attention")
    }

    var outputCount: Int { queryCount * (weights.projection?.outFeatures ?? 0) }

    /// The last hidden state [queries, hidden] of the latest query run, before any projection.
    var lastHiddenState: [Float] { Array(UnsafeBufferPointer(start: h.const, count: queryCount * config.hiddenSize)) }

    /// image: [imageTokens, encoderHidden] -> projected queries [queries, text hidden].
    func run(image: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        guard let projection = weights.projection else { throw RuntimeError.invalidInput("this model has no language projection") }
        try runQueries(image: image, pool: pool)
        try projection(h.const, rows: queryCount, into: output, pool: pool)
    }

    /// The queries alone through every layer: h = the query output [queries, hidden].
    func runQueries(image: UnsafePointer<Float>, pool: ThreadPool) throws {
        weights.inputNorm(weights.queryTokens, rows: queryCount, into: h.pointer)
        try runLayers(rows: queryCount, queryRows: queryCount, image: image, pool: pool)
    }

    /// Retrieval: the ITC image features [queries, image-text hidden], each row of unit length.
    func imageFeatures(image: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        let side = try textSide()
        try runQueries(image: image, pool: pool)
        try side.visionProjection(h.const, rows: queryCount, into: output, pool: pool)
        for r in 0..<queryCount { Self.normalize(output + r * side.visionProjection.outFeatures, count: side.visionProjection.outFeatures) }
    }

    /// Retrieval: the ITC text features [image-text hidden] of unit length, from the text alone
    /// (no queries, no cross-attention): the [CLS] row, projected.
    func textFeatures(tokens: [Int], into output: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        let side = try textSide()
        try embed(tokens, at: 0, side)
        weights.inputNorm(t.const, rows: tokens.count, into: h.pointer)
        try runLayers(rows: tokens.count, queryRows: 0, image: nil, pool: pool)
        try side.textProjection(h.const, rows: 1, into: output, pool: pool)
        Self.normalize(output, count: side.textProjection.outFeatures)
    }

    /// Retrieval: the ITM logits [no match, match]: queries and text through the layers together
    /// (the queries also cross-attend to the image), the head averaged over the query rows.
    func matchLogits(tokens: [Int], image: UnsafePointer<Float>, pool: ThreadPool) throws -> (Float, Float) {
        let side = try textSide(), nq = queryCount, d = config.hiddenSize
        t.pointer.update(from: weights.queryTokens, count: nq * d)
        try embed(tokens, at: nq, side)
        weights.inputNorm(t.const, rows: nq + tokens.count, into: h.pointer)
        try runLayers(rows: nq + tokens.count, queryRows: nq, image: image, pool: pool)
        try side.itmHead(h.const, rows: nq, into: q.pointer, pool: pool)
        var sums: (Float, Float) = (0, 0)
        for r in 0..<nq {
            sums.0 += q.pointer[2 * r]
            sums.1 += q.pointer[2 * r + 1]
        }
        return (sums.0 / Float(nq), sums.1 / Float(nq))
    }

    private func textSide() throws -> TextSide {
        guard let side = weights.text else {
            throw RuntimeError.invalidInput("this model's Q-Former has no text side (a captioning model): image-text matching needs a retrieval model such as blip2-itm-vit-g")
        }
        return side
    }

    /// t[row...] = word embedding + position embedding of each token (positions from 0).
    private func embed(_ tokens: [Int], at row: Int, _ side: TextSide) throws {
        let d = config.hiddenSize, e = side.wordEmbeddings
        guard !tokens.isEmpty, tokens.count <= maxTextTokens else {
            throw RuntimeError.invalidInput("the text has \(tokens.count) tokens; this model reads 1 to \(maxTextTokens)")
        }
        guard tokens.allSatisfy({ $0 >= 0 && $0 < e.rows }) else {
            throw RuntimeError.invalidInput("a token id is outside the Q-Former's vocabulary of \(e.rows)")
        }
        let rowBytes = e.type.rowBytes(d) ?? 0
        for (i, id) in tokens.enumerated() {
            let out = t.pointer + (row + i) * d
            Kernels.toFloat(e.type, row: e.data + id * rowBytes, into: out, count: d)
            Kernels.add(side.positions + i * d, to: out, count: d)
        }
    }

    /// x / max(|x|, 1e-12), as torch.nn.functional.normalize.
    static func normalize(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var sum: Double = 0
        for i in 0..<count { sum += Double(x[i]) * Double(x[i]) }
        let scale = Float(1 / max(sum.squareRoot(), 1e-12))
        for i in 0..<count { x[i] *= scale }
    }

    /// Every layer over h [rows, hidden], whose first `queryRows` rows are queries.
    private func runLayers(rows: Int, queryRows: Int, image: UnsafePointer<Float>?, pool: ThreadPool) throws {
        for layer in weights.layers {
            try attend(layer.selfAttention, rows: rows, keysFrom: nil, keyCount: rows, pool: pool)
            if let cross = layer.crossAttention, let image, queryRows > 0 {
                try attend(cross, rows: queryRows, keysFrom: image, keyCount: imageTokens, pool: pool)
            }
            if queryRows > 0 { try feedForward(layer.queryFeedForward, row: 0, rows: queryRows, pool: pool) }
            if rows > queryRows {
                guard let text = layer.textFeedForward else { throw RuntimeError.invalidInput("this Q-Former has no text feed-forward") }
                try feedForward(text, row: queryRows, rows: rows - queryRows, pool: pool)
            }
        }
    }

    /// h[row..<row+rows] = LayerNorm(h + output(GELU(intermediate(h)))).
    private func feedForward(_ f: FeedForward, row: Int, rows: Int, pool: ThreadPool) throws {
        let d = config.hiddenSize, x = h.pointer + row * d
        try f.intermediate(x, rows: rows, into: ffn.pointer, pool: pool)
        Kernels.gelu(ffn.pointer, count: rows * config.intermediateSize)
        try f.output(ffn.const, rows: rows, into: t.pointer, pool: pool)
        Kernels.add(x, to: t.pointer, count: rows * d)
        f.norm(t.const, rows: rows, into: x)
    }

    /// The first `rows` rows of h = LayerNorm(h + dense(attention(q = h, k = v = source)));
    /// the source is h itself (all `keyCount` rows) when nil.
    private func attend(_ a: AttentionWeights, rows: Int, keysFrom source: UnsafePointer<Float>?, keyCount: Int,
                        pool: ThreadPool) throws {
        let d = config.hiddenSize
        if let source {
            try a.query(h.const, rows: rows, into: q.pointer, pool: pool)
            try Linear.apply(source, rows: keyCount, (a.key, k.pointer), (a.value, v.pointer), pool: pool)
        } else { // self-attention: q, k and v of one input in one call
            try Linear.apply(h.const, rows: rows, (a.query, q.pointer), (a.key, k.pointer), (a.value, v.pointer), pool: pool)
        }
        try attention(q: TokenRows(q.const, stride: d), k: TokenRows(k.const, stride: d), v: TokenRows(v.const, stride: d),
                      queries: rows, keys: keyCount, into: context.pointer, outStride: d, pool: pool)
        try a.dense(context.const, rows: rows, into: t.pointer, pool: pool)
        Kernels.add(h.const, to: t.pointer, count: rows * d)
        a.norm(t.const, rows: rows, into: h.pointer)
    }
}
