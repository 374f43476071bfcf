/// Generated ids as text pieces while they come, for a UI that shows tokens as they arrive.
/// A byte-level BPE token may end inside a character, so a piece is the text that became
/// complete with the latest token. Leading whitespace is dropped, as the finished text is
/// stripped; joined, the pieces are the finished text but for its trailing whitespace.
public struct TextStream {
    let tokenizer: Tokenizer
    private var pending: [UInt8] = []
    private var started = false

    public init(tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// The text `id` completes (often empty: a special token, or part of a character).
    public mutating func append(_ id: Int) -> String {
        pending += tokenizer.bytes(of: id)
        let cut = Self.completeLength(pending)
        guard cut > 0 else { return "" }
        var text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        if !started {
            text = String(text.drop(while: { $0.isWhitespace }))
            started = !text.isEmpty
        }
        return text
    }

    /// What is left at the end (an incomplete character, decoded with U+FFFD as `decode` does).
    public mutating func finish() -> String {
        defer { pending = [] }
        let text = String(decoding: pending, as: UTF8.self)
        return started ? text : String(text.drop(while: { $0.isWhitespace }))
    }

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
