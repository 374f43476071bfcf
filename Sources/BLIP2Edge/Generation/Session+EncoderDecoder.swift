/// What a session does differently for an encoder-decoder (FlanT5): the image and prompt go
/// through the encoder once, and generation starts from the decoder's start token with the
/// decoder bound to the encoder's output. For OPT, whose whole input is the decoder's prefix,
/// `startDecoder` returns that prefix.
extension Session {
    /// T5: runs the encoder over the image and prompt and binds the decoder to its output.
    /// Returns the decoder's start: its embedding and id. OPT's prefix is its whole input.
    func startDecoder(promptTokens: [Int]) throws -> (ids: [Int], embeddings: Buffer) {
        let (ids, e) = prefix(promptTokens: promptTokens)
        guard let encoder, let decoder = language as? T5Decoder else { return (ids, e) }
        let output = Buffer(ids.count * encoder.config.hiddenSize)
        try encoder.encode(e.const, rows: ids.count, into: output.pointer, pool: pool)
        try decoder.attend(to: output.const, rows: ids.count, pool: pool)
        if lowRAM, let range = model.file.byteRange(of: .languageEncoder) { model.file.gguf.file.release(range) }
        let start = model.config.t5.decoderStartTokenId
        let first = Buffer(encoder.config.hiddenSize)
        decoder.embed(token: start, into: first.pointer)
        return ([start], first)
    }

    /// T5, after `encode`: the encoder's last hidden state [queries + prompt, d] (for tests).
    func encoderOutput(promptTokens: [Int]) throws -> [Float] {
        try checkPrompt(promptTokens)
        guard let encoder else { throw RuntimeError.invalidInput("the model has no encoder") }
        let (ids, e) = prefix(promptTokens: promptTokens)
        var out = [Float](repeating: 0, count: ids.count * encoder.config.hiddenSize)
        try out.withUnsafeMutableBufferPointer { try encoder.encode(e.const, rows: ids.count, into: $0.baseAddress!, pool: pool) }
        return out
    }

    /// T5, after `encode`: the decoder's logits [1 + decoderTokens.count, vocab] with the
    /// encoder over the image and `promptTokens`, teacher-forced from the start token.
    func decoderLogits(promptTokens: [Int], decoderTokens: [Int]) throws -> [Float] {
        try checkPrompt(promptTokens)
        guard decoderTokens.count + 1 <= language.maxBatch, decoderTokens.allSatisfy({ $0 >= 0 && $0 < language.vocabSize }) else {
            throw RuntimeError.invalidInput("the forced tokens must be at most \(language.maxBatch - 1) ids inside the vocabulary")
        }
        let (start, first) = try startDecoder(promptTokens: promptTokens)
        let d = language.embeddingWidth
        let rows = start + decoderTokens
        let e = Buffer(rows.count * d)
        e.pointer.update(from: first.const, count: d)
        for (i, id) in decoderTokens.enumerated() { language.embed(token: id, into: e.pointer + (i + 1) * d) }
        let cache = language.makeCache(capacity: rows.count, halfPrecision: false)
        var logits = [Float](repeating: 0, count: rows.count * language.vocabSize)
        try logits.withUnsafeMutableBufferPointer {
            try language.forward(e.const, count: rows.count, cache: cache, logits: $0.baseAddress!, allRows: true, pool: pool)
        }
        return logits
    }
}
