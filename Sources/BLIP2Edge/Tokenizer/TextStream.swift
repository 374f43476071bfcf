/// Generated ids as text pieces while they come, for a UI or a server that shows tokens as
/// they arrive. Joined, the pieces are exactly the finished text (`GenerationResult.text`:
/// decoded, then trimmed of surrounding whitespace), so a streamed reply reassembled equals
/// the non-streamed one. A piece therefore holds back what may still change: the bytes of a
/// character a byte-level BPE token left unfinished, and trailing whitespace, which the end
/// of the text would trim.
public struct TextStream {
    let tokenizer: any TextTokenizer
    /// Decoded bytes not yet sent.
    private var pending: [UInt8] = []
    private var started = false

    public init(tokenizer: any TextTokenizer) { self.tokenizer = tokenizer }

    /// The text `id` makes certain (often empty: a special token, part of a character, a space).
    public mutating func append(_ id: Int) -> String {
        pending += tokenizer.bytes(of: id)
        let cut = Self.completeLength(pending)
        // Bytes before `cut` decode the same whatever follows (invalid ones as U+FFFD, as
        // `decode` does); the trailing whitespace among them is valid UTF-8, held back as is.
        var text = String(decoding: pending[..<cut], as: UTF8.self).unicodeScalars
        var held = 0
        while let last = text.last, Self.isSpace(last) {
            held += String(last).utf8.count
            text.removeLast()
        }
        pending.removeFirst(cut - held)
        return start(String(text))
    }

    /// The rest once generation has ended.
    public mutating func finish() -> String {
        var text = String(decoding: pending, as: UTF8.self).unicodeScalars
        pending = []
        while let last = text.last, Self.isSpace(last) { text.removeLast() }
        return start(String(text))
    }

    /// Drops the whitespace the text starts with.
    private mutating func start(_ piece: String) -> String {
        guard !started else { return piece }
        let trimmed = String(piece.unicodeScalars.drop(while: Self.isSpace))
        started = !trimmed.isEmpty
        return trimmed
    }

    /// Foundation's `whitespacesAndNewlines`, which the finished text is trimmed of: Unicode's
    /// White_Space.
    static func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    /// The length of the longest prefix that does not end inside a UTF-8 sequence.
    static func completeLength(_ b: [UInt8]) -> Int {
        var i = b.count - 1
        // Back over at most three continuation bytes to the lead byte of the last sequence.
        while i >= 0, b.count - i <= 4, b[i] & 0xC0 == 0x80 { i -= 1 }
        guard i >= 0, b.count - i <= 4 else { return b.count }
        let lead = b[i]
        let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return b.count - i < length ? i : b.count
    }
}
