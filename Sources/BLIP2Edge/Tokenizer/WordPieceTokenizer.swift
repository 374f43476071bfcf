// NFD, as BertNormalizer's strip_accents applies it: the standard library's own normalizer
// (what FoundationEssentials' decomposedStringWithCanonicalMapping calls), reached through
// its SPI because the public spelling lives in Foundation.
@_spi(_Unicode) import Swift

/// BERT's tokenizer as transformers runs it for BLIP-2's Q-Former (BertTokenizer on the
/// `tokenizers` backend): special tokens matched whole in the raw text; then the
/// BertNormalizer (control characters dropped, whitespace made a space, CJK ideographs
/// spaced apart, accents stripped, lower case), the BertPreTokenizer (split on whitespace,
/// each punctuation character a word of its own) and greedy longest-match WordPiece with `##`
/// continuations, a word that cannot be covered becoming one [UNK]; [CLS] and [SEP] around.
public final class WordPieceTokenizer: Sendable {
    public let vocabulary: WordPieceVocabulary
    private let ids: [String: Int]
    private let specials: [(scalars: [Unicode.Scalar], id: Int)]  // longest first

    public init(vocabulary v: WordPieceVocabulary) {
        vocabulary = v
        var ids: [String: Int] = [:]
        for (i, t) in v.tokens.enumerated() where ids[t] == nil { ids[t] = i }
        self.ids = ids
        specials = v.specialIds.map { (Array(v.tokens[$0].unicodeScalars), $0) }
            .filter { !$0.scalars.isEmpty }
            .sorted { $0.scalars.count > $1.scalars.count }
    }

    /// [CLS] tokens [SEP], cut to `maxLength` tokens when given (transformers' truncation=True:
    /// the text's tokens are cut, [CLS] and [SEP] kept).
    public func encode(_ text: String, maxLength: Int? = nil) -> [Int] {
        var body: [Int] = []
        let scalars = Array(text.unicodeScalars)
        var start = 0, i = 0
        while i < scalars.count {
            if let s = specials.first(where: { s in
                i + s.scalars.count <= scalars.count && scalars[i..<(i + s.scalars.count)].elementsEqual(s.scalars)
            }) {
                encodePlain(scalars[start..<i], into: &body)
                body.append(s.id)
                i += s.scalars.count
                start = i
            } else {
                i += 1
            }
        }
        encodePlain(scalars[start..<scalars.count], into: &body)
        if let maxLength { body = Array(body.prefix(max(0, maxLength - 2))) }
        return [vocabulary.clsTokenId] + body + [vocabulary.sepTokenId]
    }

    private func encodePlain(_ text: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        guard !text.isEmpty else { return }
        for word in Self.words(normalize(text)) { wordPiece(word, into: &out) }
    }

    /// BertNormalizer: clean, space CJK, strip accents, lower-case, in that order.
    func normalize(_ text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        for s in text {
            if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
            if Self.isWhitespace(s) { out.append(" "); continue }
            if vocabulary.splitChineseCharacters && Self.isCJK(s) {
                out.append(contentsOf: [" ", s, " "])
            } else {
                out.append(s)
            }
        }
        if vocabulary.stripAccents {
            out = String(String.UnicodeScalarView(out))._nfd.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if vocabulary.lowerCase {
            // Per scalar, as Rust's char::to_lowercase: no context (a final sigma stays σ).
            out = out.flatMap { s in s.properties.changesWhenLowercased ? Array(String(s).lowercased().unicodeScalars) : [s] }
        }
        return out
    }

    /// BertPreTokenizer: whitespace separates words, every punctuation character is one.
    static func words(_ text: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var words: [ArraySlice<Unicode.Scalar>] = []
        var start = 0
        for (i, s) in text.enumerated() {
            let space = s.properties.isWhitespace
            if space || isPunctuation(s) {
                if start < i { words.append(text[start..<i]) }
                if !space { words.append(text[i..<(i + 1)]) }
                start = i + 1
            }
        }
        if start < text.count { words.append(text[start...]) }
        return words
    }

    /// Greedy longest match from the left; a word with any uncovered rest is one [UNK].
    private func wordPiece(_ word: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        guard word.count <= vocabulary.maxCharactersPerWord else { out.append(vocabulary.unknownTokenId); return }
        let chars = Array(word)
        var pieces: [Int] = []
        var start = 0
        while start < chars.count {
            var end = chars.count
            var found: Int?
            while start < end {
                var piece = start > 0 ? "##" : ""
                piece.unicodeScalars.append(contentsOf: chars[start..<end])
                if let id = ids[piece] { found = id; break }
                end -= 1
            }
            guard let id = found else { out.append(vocabulary.unknownTokenId); return }
            pieces.append(id)
            start = end
        }
        out.append(contentsOf: pieces)
    }

    // MARK: Character classes, as the `tokenizers` crate defines them for BERT

    /// Unicode's "Other" categories (Cc, Cf, Cn, Co, Cs), except tab, newline and return.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// ASCII punctuation (symbols like `$+<=>^|~` included) and Unicode's P* categories.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT spaces apart (not kana, not Hangul).
    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F, 0x2B820...0x2CEAF,
             0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }
}
