#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// T5's attention bias from the distance between a query and a key: distances fall into
/// buckets, exact for short ones and log-spaced up to `maxDistance`; each bucket has a learned
/// value per head (block 0's table, shared by every block of its stack). The encoder tells
/// before from after (half the buckets each); the decoder sees only the past.
struct RelativePositionBias {
    let table: UnsafePointer<Float>     // relative_attention_bias.weight [buckets, heads]
    let buckets: Int
    let maxDistance: Int
    let heads: Int
    let bidirectional: Bool

    /// transformers' `_relative_position_bucket` for `rel` = key position - query position,
    /// in float32 as torch computes it.
    func bucket(_ rel: Int) -> Int {
        var n = buckets, offset = 0, distance: Int
        if bidirectional {
            n /= 2
            if rel > 0 { offset = n }
            distance = abs(rel)
        } else {
            distance = max(-rel, 0)
        }
        let exact = n / 2
        if distance < exact { return offset + distance }
        let logRatio = logf(Float(distance) / Float(exact)) / Float(log(Double(maxDistance) / Double(exact)))
        let large = exact + Int(logRatio * Float(n - exact))
        return offset + min(large, n - 1)
    }

    /// The bias [heads, queries, keys] for queries at positions `firstQuery..<firstQuery + queries`
    /// against keys at `0..<keys`.
    func fill(_ out: UnsafeMutablePointer<Float>, firstQuery: Int, queries: Int, keys: Int) {
        for i in 0..<queries {
            for j in 0..<keys {
                let row = table + bucket(j - (firstQuery + i)) * heads
                for h in 0..<heads { out[(h * queries + i) * keys + j] = row[h] }
            }
        }
    }
}
