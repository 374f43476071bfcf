/// What the decoding loops drive: a language model that turns token embeddings into
/// next-token logits, one KV cache per sequence. OPT's decoder, or T5's bound to an encoded
/// input.
protocol TokenDecoder: AnyObject {
    var vocabSize: Int { get }
    /// The width of a token's embedding.
    var embeddingWidth: Int { get }
    /// The most rows one call runs.
    var maxBatch: Int { get }
    func makeCache(capacity: Int, halfPrecision: Bool) -> KVCache
    func embed(token: Int, into out: UnsafeMutablePointer<Float>)
    /// Rows [i * rowsPerCache, (i + 1) * rowsPerCache) of `inputs` belong to caches[i] and take
    /// its next positions. Writes logits for the last row, or for every row when `allRows`.
    func forward(_ inputs: UnsafePointer<Float>, caches: [KVCache], rowsPerCache: Int, logits: UnsafeMutablePointer<Float>,
                 allRows: Bool, pool: ThreadPool) throws
}

extension TokenDecoder {
    /// `count` input embeddings of one sequence at its next positions.
    func forward(_ inputs: UnsafePointer<Float>, count: Int, cache: KVCache, logits: UnsafeMutablePointer<Float>,
                 allRows: Bool = false, pool: ThreadPool) throws {
        try forward(inputs, caches: [cache], rowsPerCache: count, logits: logits, allRows: allRows, pool: pool)
    }

    /// One token for each of several sequences (beams), as one batch: the weights are read
    /// once for all rows. inputs: [caches.count, width]; logits: [caches.count, vocab].
    func step(_ inputs: UnsafePointer<Float>, caches: [KVCache], logits: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        try forward(inputs, caches: caches, rowsPerCache: 1, logits: logits, allRows: true, pool: pool)
    }
}
