/// FlanT5's tokenizer as the captioning model uses it: a prompt is the tokenizer's ids with
/// `</s>` (no prompt is `</s>` alone, as LAVIS's empty prompt gives), decoding as transformers'.
extension UnigramTokenizer: TextTokenizer {
    public func encode(_ text: String) -> [Int] { encode(text, addEndOfSequence: true) }
    public func promptIds(_ prompt: String?) -> [Int] { encode(prompt ?? "", addEndOfSequence: true) }
    public func decode(_ ids: [Int], skipSpecial: Bool) -> String { decode(ids, skipSpecialTokens: skipSpecial) }

    /// A token alone: its piece with the word marker as a space (kept even at the start: the
    /// stream's reader trims what the finished text would not begin with).
    public func bytes(of id: Int) -> [UInt8] {
        let text = decode([id], skipSpecialTokens: true)
        guard !text.isEmpty, let piece = piece(id), piece.hasPrefix("\u{2581}"), !text.hasPrefix(" ") else { return Array(text.utf8) }
        return Array((" " + text).utf8)
    }

    public var summary: String { "SentencePiece Unigram, \(vocabulary.pieces.count) pieces" }
}
