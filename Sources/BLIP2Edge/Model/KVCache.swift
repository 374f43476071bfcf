/// Keys and values of every OPT layer for one sequence, [capacity, hidden] per layer, with
/// the number of positions filled. Stored as F32, or F16 to halve its memory (the attention
/// kernel reads either). Sized once; beams copy from one another in place.
final class KVCache {
    let capacity: Int
    let width: Int
    let halfPrecision: Bool
    private let keys: [UnsafeMutableRawPointer]
    private let values: [UnsafeMutableRawPointer]
    var length = 0

    init(layers: Int, capacity: Int, width: Int, halfPrecision: Bool) {
        self.capacity = capacity
        self.width = width
        self.halfPrecision = halfPrecision
        let bytes = max(1, capacity * width * (halfPrecision ? 2 : 4))
        keys = (0..<layers).map { _ in .allocate(byteCount: bytes, alignment: 64) }
        values = (0..<layers).map { _ in .allocate(byteCount: bytes, alignment: 64) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    var elementBytes: Int { halfPrecision ? 2 : 4 }
    var byteCount: Int { 2 * keys.count * capacity * width * elementBytes }

    func keys(layer: Int) -> TokenRows { TokenRows(keys[layer], stride: width, half: halfPrecision) }
    func values(layer: Int) -> TokenRows { TokenRows(values[layer], stride: width, half: halfPrecision) }

    /// Stores `rows` rows of keys and values (F32) at positions length..<length + rows.
    func append(layer: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, rows: Int) {
        let offset = length * width * elementBytes
        let n = rows * width
        if halfPrecision {
            Kernels.floatToHalf(k, into: keys[layer] + offset, count: n)
            Kernels.floatToHalf(v, into: values[layer] + offset, count: n)
        } else {
            (keys[layer] + offset).copyMemory(from: k, byteCount: n * 4)
            (values[layer] + offset).copyMemory(from: v, byteCount: n * 4)
        }
    }

    /// Becomes a copy of `other` (positions `from..<other.length` only: the caller knows
    /// the positions before `from` are already equal, as a shared prompt is).
    func copy(from other: KVCache, from start: Int = 0) {
        precondition(other.width == width && other.length <= capacity && other.halfPrecision == halfPrecision)
        let offset = start * width * elementBytes
        let n = (other.length - start) * width * elementBytes
        if n > 0 {
            for l in keys.indices {
                (keys[l] + offset).copyMemory(from: other.keys[l] + offset, byteCount: n)
                (values[l] + offset).copyMemory(from: other.values[l] + offset, byteCount: n)
            }
        }
        length = other.length
    }
}

extension Attention {
    /// Causal self-attention of rows grouped by sequence (rows [i * rowsPerCache, (i + 1) *
    /// rowsPerCache) belong to caches[i]): each sequence's new keys and values [rows, width] go
    /// into its cache at `layer` first, then its queries attend to all its positions. `bias`
    /// gives a sequence's per-head additive term (T5), if any.
    func overCaches(_ caches: [KVCache], layer: Int, rowsPerCache: Int, width: Int, q: UnsafePointer<Float>,
                    k: UnsafePointer<Float>, v: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                    bias: (KVCache) -> UnsafePointer<Float>? = { _ in nil }, pool: ThreadPool) throws {
        for (i, cache) in caches.enumerated() {
            cache.append(layer: layer, keys: k + i * rowsPerCache * width, values: v + i * rowsPerCache * width, rows: rowsPerCache)
        }
        for (i, cache) in caches.enumerated() {
            try self(q: TokenRows(q + i * rowsPerCache * width, stride: width), k: cache.keys(layer: layer),
                     v: cache.values(layer: layer), queries: rowsPerCache, keys: cache.length + rowsPerCache,
                     into: out + i * rowsPerCache * width, outStride: width, bias: bias(cache), pool: pool)
        }
    }
}

extension TokenDecoder {
    /// What `forward` checks before it runs: the rows fit the scratch, the caches their room.
    func checkBatch(_ caches: [KVCache], rowsPerCache: Int) throws {
        let count = caches.count * rowsPerCache
        guard count >= 1, count <= maxBatch else {
            throw RuntimeError.invalidInput("\(count) rows in one call; the model was set up for \(maxBatch)")
        }
        for cache in caches where cache.length + rowsPerCache > cache.capacity {
            throw RuntimeError.invalidInput("the sequence (\(cache.length + rowsPerCache) tokens) is longer than the context of \(cache.capacity) positions")
        }
    }
}
