/// The tokenizer of a captioning model's language model, whatever its kind: OPT's byte-level
/// BPE or FlanT5's SentencePiece Unigram. What the session and the interfaces need of it.
public protocol TextTokenizer: Sendable {
    /// `tokenizer(text).input_ids`, with the special tokens the tokenizer adds (OPT's BOS in
    /// front, T5's `</s>` at the end).
    func encode(_ text: String) -> [Int]
    /// The ids a prompt puts after the image in the language model's input, as transformers'
    /// processor makes them; `nil` is no prompt (a caption). OPT's BOS is not among them: the
    /// session places it between the image and the prompt.
    func promptIds(_ prompt: String?) -> [Int]
    /// `tokenizer.decode(ids, skip_special_tokens=skipSpecial)`.
    func decode(_ ids: [Int], skipSpecial: Bool) -> String
    /// The bytes `decode` gives one token on its own, special tokens skipped (for streaming).
    func bytes(of id: Int) -> [UInt8]
    /// A line for `blip2-edge info`.
    var summary: String { get }
}

extension TextTokenizer {
    public func decode(_ ids: [Int]) -> String { decode(ids, skipSpecial: true) }
}

extension Tokenizer: TextTokenizer {
    public func encode(_ text: String) -> [Int] { encode(text, addBOS: nil) }
    public func promptIds(_ prompt: String?) -> [Int] { prompt.map { encode($0, addBOS: false) } ?? [] }
    public func bytes(of id: Int) -> [UInt8] { bytes(of: id, skipSpecial: true) }
    public var summary: String { "byte-level BPE, \(vocabulary.tokens.count) tokens, \(vocabulary.merges.count) merges" }
}
