/// OPT's tokenizer: GPT-2 byte-level BPE, built from the vocabulary stored in the model file.
/// Encoding: added tokens (`<image>`, `</s>`, ...) are matched whole first; the rest is
/// pre-tokenized, mapped byte by byte to GPT-2's printable alphabet and merged by rank;
/// BOS is prepended as the HF tokenizer does. Decoding reverses it. transformers 5 ignores
/// `clean_up_tokenization_spaces` for byte-level BPE, so no cleanup is applied.
public final class Tokenizer: Sendable {
    public let vocabulary: TokenizerVocabulary
    private let ids: [String: Int]
    /// Merge ranks keyed by the pair of token ids they join, and the id of the result.
    private let merges: [UInt64: (rank: Int32, result: Int32)]
    private let byteTokens: [Int32]          // GPT-2 alphabet symbol of each byte -> its id
    private let tokenBytes: [[UInt8]?]       // decoded bytes of each normal token
    private let addedTokens: [(scalars: [Unicode.Scalar], id: Int)]  // longest first
    public init(vocabulary v: TokenizerVocabulary) throws {
        vocabulary = v
        var ids: [String: Int] = [:]
        for (i, t) in v.tokens.enumerated() where ids[t] == nil { ids[t] = i }
        self.ids = ids
        let alphabet = ByteLevel.alphabet
        var byteTokens = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            guard let id = ids[String(Character(alphabet[b]))] else {
                throw TokenizerFileError.invalid(file: "tokenizer", reason: "the vocabulary lacks the byte token for 0x\(String(b, radix: 16))")
            }
            byteTokens[b] = Int32(id)
        }
        self.byteTokens = byteTokens
        var merges: [UInt64: (rank: Int32, result: Int32)] = [:]
        for (rank, m) in v.merges.enumerated() {
            let parts = m.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, let a = ids[String(parts[0])], let b = ids[String(parts[1])],
                  let r = ids[String(parts[0] + parts[1])] else {
                throw TokenizerFileError.invalid(file: "tokenizer", reason: "merge \(rank) (\"\(m)\") joins tokens the vocabulary lacks")
            }
            let key = UInt64(a) << 32 | UInt64(b)
            if merges[key] == nil { merges[key] = (Int32(rank), Int32(r)) }
        }
        self.merges = merges
        let inverse = ByteLevel.inverse
        tokenBytes = v.tokens.enumerated().map { i, t in
            guard v.types[i] == .normal else { return nil }
            var bytes: [UInt8] = []
            for s in t.unicodeScalars {
                guard let b = inverse[s] else { return nil }
                bytes.append(b)
            }
            return bytes
        }
        addedTokens = v.tokens.enumerated()
            .filter { v.types[$0.offset] == .control || v.types[$0.offset] == .userDefined }
            .map { (Array($0.element.unicodeScalars), $0.offset) }
            .filter { !$0.scalars.isEmpty }
            .sorted { $0.scalars.count > $1.scalars.count }
    }

    /// Token ids of `text`, BOS first when the vocabulary says so (as HF's tokenizer does).
    public func encode(_ text: String, addBOS: Bool? = nil) -> [Int] {
        var out: [Int] = []
        if addBOS ?? vocabulary.addBOS { out.append(vocabulary.bosTokenId) }
        let scalars = Array(text.unicodeScalars)
        var start = 0
        var i = 0
        while i < scalars.count {
            if let added = addedTokens.first(where: { a in
                i + a.scalars.count <= scalars.count && scalars[i..<(i + a.scalars.count)].elementsEqual(a.scalars)
            }) {
                encodePlain(scalars[start..<i], into: &out)
                out.append(added.id)
                i += added.scalars.count
                start = i
            } else {
                i += 1
            }
        }
        encodePlain(scalars[start..<scalars.count], into: &out)
        return out
    }

    private func encodePlain(_ scalars: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        guard !scalars.isEmpty else { return }
        let piece = Array(scalars)
        for r in PreTokenizer.split(piece) {
            var bytes: [UInt8] = []
            for s in piece[r] { bytes.append(contentsOf: String(Character(s)).utf8) }
            bpe(bytes, into: &out)
        }
    }

    /// Merges a word's byte tokens by rank: the lowest-ranked adjacent pair first, leftmost
    /// on ties, with a heap of candidate pairs so long words cost n log n, not n^2.
    private func bpe(_ bytes: [UInt8], into out: inout [Int]) {
        var sym = bytes.map { byteTokens[Int($0)] }
        if sym.count == 1 { out.append(Int(sym[0])); return }
        var next = Array(1...sym.count)          // linked list over positions
        var prev = Array(-1..<(sym.count - 1))
        var alive = [Bool](repeating: true, count: sym.count)
        var heap = PairHeap()
        func push(_ i: Int) {
            let j = next[i]
            guard j < sym.count, let m = merges[UInt64(UInt32(sym[i])) << 32 | UInt64(UInt32(sym[j]))] else { return }
            heap.push(PairHeap.Entry(rank: m.rank, position: Int32(i), left: sym[i], right: sym[j]))
        }
        for i in 0..<(sym.count - 1) { push(i) }
        while let e = heap.pop() {
            let i = Int(e.position)
            // Skip entries made stale by an earlier merge.
            guard alive[i], sym[i] == e.left, next[i] < sym.count, sym[next[i]] == e.right else { continue }
            let j = next[i]
            guard let m = merges[UInt64(UInt32(sym[i])) << 32 | UInt64(UInt32(sym[j]))] else { continue }
            sym[i] = m.result
            alive[j] = false
            next[i] = next[j]
            if next[j] < sym.count { prev[next[j]] = i }
            if prev[i] >= 0 { push(prev[i]) }
            push(i)
        }
        var i = 0
        while i < sym.count {
            out.append(Int(sym[i]))
            i = next[i]
        }
    }

    /// Text of `ids`: special tokens skipped, bytes decoded as UTF-8 with invalid sequences
    /// replaced (U+FFFD), as `batch_decode(ids, skip_special_tokens=True)`. Ids without a
    /// token (the embedding has more rows than the vocabulary) give nothing.
    public func decode(_ ids: [Int], skipSpecial: Bool = true) -> String {
        var text = ""
        var bytes: [UInt8] = []
        func flush() {
            if !bytes.isEmpty { text += String(decoding: bytes, as: UTF8.self) }
            bytes.removeAll(keepingCapacity: true)
        }
        for id in ids where id >= 0 && id < vocabulary.tokens.count {
            if let b = tokenBytes[id] {
                bytes.append(contentsOf: b)
            } else if !(skipSpecial && vocabulary.types[id] == .control) {
                flush()
                text += vocabulary.tokens[id]
            }
        }
        flush()
        return text
    }
}

extension Tokenizer {
    /// The bytes `decode` gives one token: nothing for special tokens (when skipped) and ids
    /// without a token.
    func bytes(of id: Int, skipSpecial: Bool) -> [UInt8] {
        guard id >= 0, id < vocabulary.tokens.count else { return [] }
        if let b = tokenBytes[id] { return b }
        return skipSpecial && vocabulary.types[id] == .control ? [] : Array(vocabulary.tokens[id].utf8)
    }
}

/// GPT-2's reversible map from bytes to printable Unicode scalars.
enum ByteLevel {
    static let alphabet: [Unicode.Scalar] = {
        var printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var map = [Unicode.Scalar](repeating: " ", count: 256)
        for b in printable { map[b] = Unicode.Scalar(UInt32(b))! }
        var extra = 0
        for b in 0..<256 where !printable.contains(b) {
            map[b] = Unicode.Scalar(UInt32(256 + extra))!
            extra += 1
        }
        printable.removeAll()
        return map
    }()

    static let inverse: [Unicode.Scalar: UInt8] = {
        var m: [Unicode.Scalar: UInt8] = [:]
        for (b, s) in alphabet.enumerated() { m[s] = UInt8(b) }
        return m
    }()
}

/// A binary min-heap of merge candidates ordered by (rank, position).
struct PairHeap {
    struct Entry {
        let rank: Int32
        let position: Int32
        let left: Int32
        let right: Int32
        func before(_ o: Entry) -> Bool { rank < o.rank || (rank == o.rank && position < o.position) }
    }

    private var items: [Entry] = []

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i].before(items[p]) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l].before(items[m]) { m = l }
                if r < items.count && items[r].before(items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
