import XCTest
@testable import BLIP2Edge

/// Beam search hands each beam its parent's KV cache: the first child of a parent gets that
/// cache itself, the others copies. The golden beam tests check the tokens; this checks the
/// caches themselves, including a parent with three children and beams that end.
final class BeamCacheTests: XCTestCase {
    let layers = 2, width = 3, prompt = 2, generated = 3

    /// Cache `id`: the prompt's positions equal in every cache, the generated ones its own.
    func makeCache(id: Int, half: Bool) -> KVCache {
        let cache = KVCache(layers: layers, capacity: prompt + generated + 1, width: width, halfPrecision: half)
        for position in 0..<(prompt + generated) {
            let tag = position < prompt ? -1 : id
            for layer in 0..<layers {
                let k = (0..<width).map { Float(100 * tag + 10 * layer + $0 + position) }
                let v = k.map { -$0 }
                cache.append(layer: layer, keys: k, values: v, rows: 1)
            }
            cache.length += 1
        }
        return cache
    }

    func contents(_ cache: KVCache) -> [Float] {
        var out: [Float] = []
        for layer in 0..<layers {
            for rows in [cache.keys(layer: layer), cache.values(layer: layer)] {
                var floats = [Float](repeating: 0, count: cache.length * width)
                if rows.half {
                    Kernels.halfToFloat(rows.base, into: &floats, count: floats.count)
                } else {
                    for i in floats.indices { floats[i] = rows.base.load(fromByteOffset: 4 * i, as: Float.self) }
                }
                out += floats
            }
        }
        return out
    }

    func check(parents: [Int], half: Bool) {
        let caches = (0..<5).map { makeCache(id: $0, half: half) }
        let before = caches.map(contents)
        let next = Generator.reorder(caches, parents: parents, promptLength: prompt)
        XCTAssertEqual(next.count, caches.count, "\(parents)")
        XCTAssertEqual(Set(next.map(ObjectIdentifier.init)).count, caches.count, "a cache handed out twice: \(parents)")
        var seen = Set<Int>()
        for (i, p) in parents.enumerated() {
            XCTAssertEqual(contents(next[i]), before[p], "beam \(i) of \(parents)")
            XCTAssertEqual(next[i].length, caches[p].length)
            // The first child keeps its parent's cache; the others copy into a cache nobody continues from.
            if seen.insert(p).inserted {
                XCTAssertTrue(next[i] === caches[p], "beam \(i) of \(parents) copied its parent's cache")
            } else {
                XCTAssertFalse(parents.contains { next[i] === caches[$0] }, "beam \(i) of \(parents) wrote into a parent")
            }
        }
    }

    func testEachBeamContinuesFromItsParentsCache() {
        for half in [false, true] {
            check(parents: [0, 1, 2, 3, 4], half: half)  // no copies
            check(parents: [4, 3, 2, 1, 0], half: half)
            check(parents: [2, 2, 2, 0, 3], half: half)  // three children of one parent
            check(parents: [1, 1, 1, 1, 1], half: half)
            check(parents: [3, 0, 3], half: half)        // fewer beams run on
        }
    }
}
