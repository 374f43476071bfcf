#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Beam search as transformers 5 does it (`GenerationMixin._beam_search`), step for step:
/// log-softmax, processors on log-probabilities, the top 2 x beams continuations of all
/// beams, finished hypotheses scored by sum of log-probs / generated_length^length_penalty
/// and kept if among the best `beams`, and its early-stop heuristic. Each beam has its own
/// KV cache; all beams run as one batch, so each step reads the weights once.
extension Generator {
    struct Hypothesis {
        var tokens: [Int]   // generated tokens only
        var score: Float
    }

    func beamSearch(prefix: UnsafePointer<Float>, prefixIds: [Int], clock: Clock) throws -> [Int] {
        let beams = parameters.beamCount
        let vocab = model.vocabSize, d = model.embeddingWidth
        let promptLength = prefixIds.count
        let maxLength = promptLength + parameters.maxNewTokens
        let lp = parameters.lengthPenalty
        let keep = max(2, 1 + eosTokens.count) * beams
        let processor = LogitsProcessor(parameters: parameters, eosTokens: eosTokens, promptLength: promptLength)

        var caches = (0..<beams).map { _ in makeCache(capacity: maxLength) }
        let logits = Buffer(beams * vocab)
        let embeddings = Buffer(beams * d)

        // Every beam starts from the prompt; only beam 0 counts at first (the others at -1e9).
        var t = Self.now()
        try model.forward(prefix, count: promptLength, cache: caches[0], logits: logits.pointer, pool: pool)
        clock.prefill = Self.now() - t
        t = Self.now()
        defer { clock.decode = Self.now() - t }
        // The prompt's keys and values are the same for every beam: copied once here, so that
        // reordering beams later copies only the generated positions.
        for b in 1..<max(1, beams) {
            caches[b].copy(from: caches[0])
            (logits.pointer + b * vocab).update(from: logits.const, count: vocab)
        }
        var running = [[Int]](repeating: [], count: beams)      // generated tokens per running beam
        var runningScores = [Float](repeating: -1e9, count: beams)
        runningScores[0] = 0
        var finished: [Hypothesis] = []
        var earlyStopUnsatisfied = true
        var curLen = promptLength

        while true {
            // Candidates: (accumulated log-prob, beam, token), the top `keep` over all beams.
            var candidates: [(score: Float, beam: Int, token: Int)] = []
            candidates.reserveCapacity(beams * keep)
            for b in 0..<beams {
                let row = logits.pointer + b * vocab
                Self.logSoftmax(row, vocab)
                processor.apply(row, vocab: vocab, sequence: prefixIds + running[b])
                let top = Self.topIndices(UnsafePointer(row), vocab, k: keep)
                for t in top { candidates.append((row[t] + runningScores[b], b, t)) }
            }
            // torch.topk over the flattened [beams x vocab] scores; index order breaks ties.
            candidates.sort { $0.score > $1.score || ($0.score == $1.score && ($0.beam, $0.token) < ($1.beam, $1.token)) }
            let top = candidates.prefix(keep)
            let hits = top.map { eosTokens.contains($0.token) || curLen + 1 >= maxLength }

            // Finished: those among the first `beams` candidates that stop here.
            let full = finished.count == beams && parameters.earlyStopping
            if earlyStopUnsatisfied && !full {
                let norm = pow(Float(curLen + 1 - promptLength), lp)
                for (i, c) in top.prefix(beams).enumerated() where hits[i] {
                    finished.append(Hypothesis(tokens: running[c.beam] + [c.token], score: c.score / norm))
                }
                finished.sort { $0.score > $1.score }
                if finished.count > beams { finished.removeLast(finished.count - beams) }
            }

            // Running: the best `beams` candidates that do not stop.
            var next: [(score: Float, beam: Int, token: Int)] = []
            for (i, c) in top.enumerated() where !hits[i] && next.count < beams { next.append(c) }
            curLen += 1

            let allHit = hits.allSatisfy { $0 }
            if !allHit {
                // Early-stop heuristic (early_stopping false): can the best running beam at its
                // current length still beat the worst finished hypothesis?
                // Until every slot holds a finished hypothesis, the worst is -1e9 and this holds.
                let best = (next.first?.score ?? -1e9) / pow(Float(curLen - promptLength), lp)
                let worst = finished.count == beams ? (finished.last?.score ?? -1e9) : -1e9
                earlyStopUnsatisfied = earlyStopUnsatisfied && best > worst
            }
            let allFinished = finished.count == beams && parameters.earlyStopping
            if allHit || !earlyStopUnsatisfied || allFinished || next.isEmpty { break }
            if isCancelled() { throw RuntimeError.cancelled }

            caches = Self.reorder(caches, parents: next.map(\.beam), promptLength: promptLength)
            running = next.map { running[$0.beam] + [$0.token] }
            runningScores = next.map(\.score)
            while running.count < beams {
                running.append(running[0])
                runningScores.append(-1e9)
            }
            for (i, tokens) in running.enumerated() {
                model.embed(token: tokens.last ?? 0, into: embeddings.pointer + i * d)
            }
            try model.step(embeddings.const, caches: Array(caches.prefix(running.count)), logits: logits.pointer, pool: pool)
            clock.steps += 1
        }
        return finished.first?.tokens ?? []
    }

    /// The caches of the next step: beam i continues from its parent's. A parent's first child
    /// takes the parent's cache as it is; another child takes a cache that no beam continues
    /// from and copies the parent's generated positions into it (the prompt's are the same in
    /// every cache). Caches left over come last, for the padding beams. So a step copies one
    /// cache per parent shared, not one per beam, and no second set of caches is held.
    static func reorder(_ caches: [KVCache], parents: [Int], promptLength: Int) -> [KVCache] {
        let continued = Set(parents)
        var free = caches.indices.filter { !continued.contains($0) }.map { caches[$0] }
        var handedOut = Set<Int>()
        var next: [KVCache] = []
        next.reserveCapacity(caches.count)
        for p in parents {
            if handedOut.insert(p).inserted {
                next.append(caches[p])
            } else {
                let cache = free.removeLast()
                cache.copy(from: caches[p], from: promptLength)
                next.append(cache)
            }
        }
        return next + free
    }

    /// In-place log-softmax, in float32 like torch (max-shifted).
    static func logSoftmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, x[i]) }
        var sum: Float = 0
        for i in 0..<n { sum += exp(x[i] - m) }
        let logSum = log(sum)
        for i in 0..<n { x[i] = (x[i] - m) - logSum }
    }

    /// Indices of the k largest values, largest first (ties: lower index first).
    static func topIndices(_ x: UnsafePointer<Float>, _ n: Int, k: Int) -> [Int] {
        var heap: [Int] = []
        heap.reserveCapacity(k + 1)
        func worse(_ a: Int, _ b: Int) -> Bool { x[a] < x[b] || (x[a] == x[b] && a > b) }
        for i in 0..<n {
            if heap.count < k {
                heap.append(i)
                if heap.count == k { heap.sort { worse($1, $0) } }
            } else if let last = heap.last, worse(last, i) {
                // Insert keeping best-first order; k is small (2 x beams).
                var pos = heap.count - 1
                heap[pos] = i
                while pos > 0 && worse(heap[pos - 1], heap[pos]) {
                    heap.swapAt(pos - 1, pos)
                    pos -= 1
                }
            }
        }
        if heap.count < k { heap.sort { worse($1, $0) } }
        return heap
    }
}
