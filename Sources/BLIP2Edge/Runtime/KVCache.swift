/// Keys and values of every OPT layer for one sequence, [capacity, hidden] per layer, with
/// the number of positions filled. Sized once; beams copy from one another in place.
final class KVCache {
    let capacity: Int
    let width: Int
    let keys: [Buffer]
    let values: [Buffer]
    var length = 0

    init(layers: Int, capacity: Int, width: Int) {
        self.capacity = capacity
        self.width = width
        keys = (0..<layers).map { _ in Buffer(capacity * width) }
        values = (0..<layers).map { _ in Buffer(capacity * width) }
    }

    /// Becomes a copy of `other` (positions `from..<other.length` only: the caller knows
    /// the positions before `from` are already equal, as a shared prompt is).
    func copy(from other: KVCache, from start: Int = 0) {
        precondition(other.width == width && other.length <= capacity)
        let n = (other.length - start) * width
        if n > 0 {
            for l in keys.indices {
                (keys[l].pointer + start * width).update(from: other.keys[l].pointer + start * width, count: n)
                (values[l].pointer + start * width).update(from: other.values[l].pointer + start * width, count: n)
            }
        }
        length = other.length
    }
}
