import BLIP2System

/// Flan-T5's tokenizer as transformers 5 runs it (T5Tokenizer on the `tokenizers` backend).
///
/// Encoding: special added tokens (`</s>`, `<extra_id_0>`, ...) are cut out of the raw text first,
/// longest match at the leftmost position; each remaining piece goes through the Precompiled
/// normalizer, then non-special added tokens are cut out of the normalized text; the rest is
/// split on Unicode whitespace (which vanishes), each word gets a leading `▁` and is split again
/// before every `▁` it holds (Metaspace, prepend "always", split); each of those is segmented by
/// Viterbi over the pieces' log-probabilities. `</s>` is appended.
///
/// The Viterbi is the `tokenizers` crate's Unigram, not SentencePiece's: a character no piece of
/// its own length covers gets an unknown node scored min_score - 10, a candidate replaces the best
/// path into a position only when strictly better (so among equal paths the one whose last piece
/// starts earliest wins), and runs of unknown nodes become one unknown token.
public struct UnigramTokenizer: Sendable {
    public let vocabulary: UnigramVocabulary
    private let normalizer: PrecompiledCharsMap?
    private let trie: PieceTrie
    /// Scores by id, summed in double precision as the crate does (a hand-built vocabulary with
    /// fewer scores than pieces gets 0 for the rest rather than a trap).
    private let scores: [Double]
    private let unknownScore: Double
    private let rawAdded: AddedTokenMatcher
    private let normalizedAdded: AddedTokenMatcher
    /// What decode writes for each id: normalized non-special added tokens as matched.
    private let decodedPieces: [String]
    /// Whether an id's text is that of a special added token: decode drops those ids.
    private let isSpecialText: [Bool]

    /// A vocabulary read by `UnigramVocabulary(directory:)` or `(metadata:path:)` has a valid
    /// charsmap; one built by hand with an invalid blob is tokenized without normalization.
    public init(vocabulary v: UnigramVocabulary) {
        vocabulary = v
        let normalizer = v.precompiledCharsMap.isEmpty ? nil : try? PrecompiledCharsMap(v.precompiledCharsMap)
        self.normalizer = normalizer
        var trie = PieceTrie()
        // Tokens added after the model's pieces (score -infinity) are no node of the lattice.
        for (id, piece) in v.pieces.enumerated() where id >= v.scores.count || v.scores[id].isFinite {
            trie.insert(Array(piece.utf8), id: Int32(id))
        }
        self.trie = trie
        scores = v.pieces.indices.map { $0 < v.scores.count ? Double(v.scores[$0]) : 0 }
        let minScore = scores.filter(\.isFinite).min() ?? 0
        unknownScore = minScore - 10  // the crate's kUnkPenalty
        var raw: [(bytes: [UInt8], id: Int)] = [], normalized: [(bytes: [UInt8], id: Int)] = []
        var decoded = v.pieces
        // Texts compared as bytes, as Rust does: Swift's String equality is canonical
        // equivalence, which would make conjoining jamo equal to the precomposed syllable.
        var special = Set<[UInt8]>()
        for (id, type) in v.types.enumerated() where id < v.pieces.count {
            switch type {
            case .control:
                raw.append((Array(v.pieces[id].utf8), id))
                special.insert(Array(v.pieces[id].utf8))
            case .userDefined:
                let text = normalizer?.normalize(v.pieces[id]) ?? v.pieces[id]
                normalized.append((Array(text.utf8), id))
                decoded[id] = text
            default: break
            }
        }
        rawAdded = AddedTokenMatcher(raw)
        normalizedAdded = AddedTokenMatcher(normalized)
        decodedPieces = decoded
        isSpecialText = v.pieces.map { special.contains(Array($0.utf8)) }
    }

    /// The piece of an id, as the vocabulary spells it.
    public func piece(_ id: Int) -> String? { vocabulary.pieces.indices.contains(id) ? vocabulary.pieces[id] : nil }

    /// `T5Tokenizer(text).input_ids`: the text's ids, then `</s>` unless told otherwise.
    public func encode(_ text: String, addEndOfSequence: Bool = true) -> [Int] {
        var out: [Int] = []
        for part in rawAdded.split(Array(text.utf8)) {
            switch part {
            case let .token(id): out.append(id)
            case let .text(bytes):
                let normalized = normalizer?.normalize(String(decoding: bytes, as: UTF8.self)) ?? String(decoding: bytes, as: UTF8.self)
                for inner in normalizedAdded.split(Array(normalized.utf8)) {
                    switch inner {
                    case let .token(id): out.append(id)
                    case let .text(bytes): encodeWords(bytes, into: &out)
                    }
                }
            }
        }
        if addEndOfSequence { out.append(vocabulary.eosTokenId) }
        return out
    }

    /// `tokenizer.decode(ids, skip_special_tokens:)`: pieces joined, `▁` read as a space (and
    /// dropped from the first piece), then transformers' clean-up when the tokenizer asks for it.
    /// Ids outside the vocabulary are left out, as `tokenizers` does.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        var out = ""
        var first = true
        for id in ids where decodedPieces.indices.contains(id) {
            if skipSpecialTokens && isSpecialText[id] { continue }
            let piece = decodedPieces[id]
            for c in piece.unicodeScalars {
                if c == Self.metaspace {
                    if !first { out.unicodeScalars.append(" ") }
                } else {
                    out.unicodeScalars.append(c)
                }
            }
            first = false
        }
        return vocabulary.cleanUpTokenizationSpaces ? Self.cleanUp(out) : out
    }

    // MARK: Pre-tokenization and Viterbi

    static let metaspace: Unicode.Scalar = "\u{2581}"
    private static let metaspaceBytes: [UInt8] = [0xE2, 0x96, 0x81]

    /// WhitespaceSplit then Metaspace: words split on White_Space, `▁` prepended unless already
    /// there, and a new pre-token started at every `▁`.
    private func encodeWords(_ text: ArraySlice<UInt8>, into out: inout [Int]) {
        var word: [UInt8] = []
        for scalar in String(decoding: text, as: UTF8.self).unicodeScalars {
            if scalar.properties.isWhitespace {
                encodeWord(word, into: &out)
                word.removeAll(keepingCapacity: true)
            } else {
                UTF8.encode(scalar) { word.append($0) }
            }
        }
        encodeWord(word, into: &out)
    }

    private func encodeWord(_ word: [UInt8], into out: inout [Int]) {
        guard !word.isEmpty else { return }
        let m = Self.metaspaceBytes
        let text = word.starts(with: m) ? word : m + word
        var start = 0
        var i = m.count
        while i + m.count <= text.count {
            if text[i] == m[0] && text[i + 1] == m[1] && text[i + 2] == m[2] {
                viterbi(text[start..<i], into: &out)
                start = i
                i += m.count
            } else {
                i += 1
            }
        }
        viterbi(text[start...], into: &out)
    }

    /// The best segmentation of one pre-token into pieces, over UTF-8 byte positions.
    private func viterbi(_ s: ArraySlice<UInt8>, into out: inout [Int]) {
        let bytes = Array(s)
        let n = bytes.count
        guard n > 0 else { return }
        // Best path into each position: its score, where its last piece starts, and that piece.
        var score = [Double](repeating: 0, count: n + 1)
        var from = [Int](repeating: -1, count: n + 1)
        var piece = [Int32](repeating: 0, count: n + 1)
        var start = 0
        while start < n {
            let here = score[start]
            let width = Self.utf8Width(bytes[start])
            var coversCharacter = false
            trie.forEachPrefix(of: bytes, from: start) { length, id in
                let end = start + length
                let candidate = scores[Int(id)] + here
                if from[end] < 0 || candidate > score[end] {
                    score[end] = candidate
                    from[end] = start
                    piece[end] = id
                }
                if length == width { coversCharacter = true }
            }
            let end = min(start + width, n)
            if !coversCharacter {
                let candidate = unknownScore + here
                if from[end] < 0 || candidate > score[end] {
                    score[end] = candidate
                    from[end] = start
                    piece[end] = Int32(vocabulary.unknownTokenId)
                }
            }
            start = end
        }
        // Back from the end; adjacent unknown nodes become one token, looked up by its text.
        var reversed: [Int] = []
        var end = n
        var unknownEnd = -1
        while end > 0 {
            let begin = from[end]
            let id = Int(piece[end])
            if id == vocabulary.unknownTokenId {
                if unknownEnd < 0 { unknownEnd = end }
            } else {
                if unknownEnd >= 0 { reversed.append(fusedUnknown(bytes[end..<unknownEnd])); unknownEnd = -1 }
                reversed.append(id)
            }
            end = begin
        }
        if unknownEnd >= 0 { reversed.append(fusedUnknown(bytes[0..<unknownEnd])) }
        out.append(contentsOf: reversed.reversed())
    }

    /// The id of a run of unknown characters: the piece with exactly those bytes (the last of
    /// duplicates, as the crate's HashMap keeps), else the unknown id.
    private func fusedUnknown(_ bytes: ArraySlice<UInt8>) -> Int {
        trie.exactMatch(bytes).map(Int.init) ?? vocabulary.unknownTokenId
    }

    /// Bytes of the UTF-8 sequence a lead byte starts (text here is always valid UTF-8).
    private static func utf8Width(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }

    /// transformers' `clean_up_tokenization`, in its order.
    static func cleanUp(_ text: String) -> String {
        var t = text
        for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            t = t.replacingAll(from, with: to)
        }
        return t
    }
}

/// A byte trie over the pieces, for the crate's common-prefix search: every piece the text
/// starts with at a position, shortest first. One dictionary keyed by (node, byte) keeps it
/// compact for 32k pieces; a lookup costs one hash per byte of the longest match.
private struct PieceTrie: Sendable {
    private var children: [UInt64: Int32] = [:]
    /// The piece id ending at each node, or -1.
    private var leaf: [Int32] = [-1]

    mutating func insert(_ bytes: [UInt8], id: Int32) {
        guard !bytes.isEmpty else { return }  // the crate never reports an empty match
        var node: Int32 = 0
        for b in bytes {
            let key = UInt64(UInt32(node)) << 8 | UInt64(b)
            if let next = children[key] {
                node = next
            } else {
                let next = Int32(leaf.count)
                leaf.append(-1)
                children[key] = next
                node = next
            }
        }
        leaf[Int(node)] = id
    }

    func exactMatch(_ bytes: ArraySlice<UInt8>) -> Int32? {
        var node: Int32 = 0
        for b in bytes {
            guard let next = children[UInt64(UInt32(node)) << 8 | UInt64(b)] else { return nil }
            node = next
        }
        return node > 0 && leaf[Int(node)] >= 0 ? leaf[Int(node)] : nil
    }

    func forEachPrefix(of bytes: [UInt8], from start: Int, _ body: (_ length: Int, _ id: Int32) -> Void) {
        var node: Int32 = 0
        var i = start
        while i < bytes.count, let next = children[UInt64(UInt32(node)) << 8 | UInt64(bytes[i])] {
            node = next
            i += 1
            if leaf[Int(node)] >= 0 { body(i - start, leaf[Int(node)]) }
        }
    }
}

/// Cuts added tokens out of text as `tokenizers`' AddedVocabulary does (an Aho-Corasick automaton
/// in leftmost-longest mode): at the leftmost position where any token matches, the longest
/// one wins; the search resumes after it.
private struct AddedTokenMatcher: Sendable {
    enum Part { case text(ArraySlice<UInt8>), token(Int) }

    /// Tokens by first byte, longest first.
    private let byFirstByte: [UInt8: [(bytes: [UInt8], id: Int)]]

    init(_ tokens: [(bytes: [UInt8], id: Int)]) {
        var map: [UInt8: [(bytes: [UInt8], id: Int)]] = [:]
        for t in tokens where !t.bytes.isEmpty { map[t.bytes[0], default: []].append(t) }
        byFirstByte = map.mapValues { $0.sorted { $0.bytes.count > $1.bytes.count } }
    }

    func split(_ text: [UInt8]) -> [Part] {
        guard !byFirstByte.isEmpty else { return [.text(text[...])] }
        var parts: [Part] = []
        var start = 0, i = 0
        while i < text.count {
            if let candidates = byFirstByte[text[i]],
               let match = candidates.first(where: { i + $0.bytes.count <= text.count && text[i..<(i + $0.bytes.count)].elementsEqual($0.bytes) }) {
                if start < i { parts.append(.text(text[start..<i])) }
                parts.append(.token(match.id))
                i += match.bytes.count
                start = i
            } else {
                i += 1
            }
        }
        if start < text.count { parts.append(.text(text[start...])) }
        return parts
    }
}
