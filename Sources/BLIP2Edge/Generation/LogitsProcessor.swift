/// transformers' logits processors, applied in its order: repetition penalty, no-repeat
/// n-grams, minimum new tokens. `sequence` is the whole sequence so far, prompt included
/// (as transformers passes input_ids: for BLIP-2 that includes the image-token ids).
struct LogitsProcessor {
    let parameters: GenerationParameters
    let eosTokens: [Int]
    let promptLength: Int

    func apply(_ scores: UnsafeMutablePointer<Float>, vocab: Int, sequence: [Int]) {
        if parameters.repetitionPenalty != 1 {
            // Each distinct token once: a score below zero grows more negative, above shrinks.
            var seen = Set<Int>()
            for t in sequence where t >= 0 && t < vocab && seen.insert(t).inserted {
                let s = scores[t]
                scores[t] = s < 0 ? s * parameters.repetitionPenalty : s / parameters.repetitionPenalty
            }
        }
        let n = parameters.noRepeatNgramSize
        if n > 0, sequence.count + 1 >= n {
            // Ban every token that would complete an n-gram already in the sequence.
            let prefix = sequence.suffix(n - 1)
            if sequence.count >= n {
                for start in 0...(sequence.count - n) where sequence[start..<(start + n - 1)].elementsEqual(prefix) {
                    let banned = sequence[start + n - 1]
                    if banned >= 0 && banned < vocab { scores[banned] = -.infinity }
                }
            }
        }
        if sequence.count - promptLength < parameters.minNewTokens {
            for e in eosTokens where e < vocab { scores[e] = -.infinity }
        }
    }
}
