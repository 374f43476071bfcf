/// SentencePiece's compiled normalization rules (`precompiled_charsmap`, e.g. nmt_nfkc), applied
/// as HuggingFace `tokenizers` applies its `Precompiled` normalizer (the spm_precompiled crate).
///
/// The blob: a u32 little-endian size in bytes of a darts-clone double-array trie, the trie's
/// u32 units, then NUL-terminated replacement strings; a trie leaf's value is the byte offset of
/// its replacement. Keys are UTF-8 byte strings.
///
/// `tokenizers` does not do what SentencePiece does (longest match over the whole text). Per
/// extended grapheme cluster: one under 6 UTF-8 bytes whose bytes start with a key is replaced
/// whole by the *shortest* matching key's replacement (whatever follows that key in the
/// grapheme is dropped); otherwise each character is replaced by its own shortest match, or
/// kept. Mirrored here exactly, since token ids depend on it.
public struct PrecompiledCharsMap: Sendable, Equatable {
    /// The blob as stored in tokenizer.json and the model file.
    public let blob: [UInt8]
    private let units: [UInt32]
    private let replacements: [UInt8]

    public init(_ blob: [UInt8]) throws(PrecompiledCharsMapError) {
        guard blob.count >= 4 else { throw .truncated(need: 4, have: blob.count) }
        let trieBytes = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        // As the crate reads it: size / 4 whole units; any remainder belongs to the strings.
        let count = trieBytes / 4
        guard count <= (blob.count - 4) / 4 else { throw .truncated(need: 4 + trieBytes, have: blob.count) }
        guard count > 0 else { throw .emptyTrie }
        var units = [UInt32](repeating: 0, count: count)
        for i in 0..<count {
            let o = 4 + 4 * i
            units[i] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        let replacements = Array(blob[(4 + 4 * count)...])
        guard String(validating: replacements, as: UTF8.self) != nil else { throw .replacementsNotUTF8 }
        self.blob = blob
        self.units = units
        self.replacements = replacements
        try validate()
    }

    /// The normalized text.
    public func normalize(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for grapheme in text {
            let bytes = Array(grapheme.utf8)
            if bytes.count < 6, let r = shortestMatch(bytes[...]) {
                out.append(contentsOf: replacements[r])
                continue
            }
            var start = 0
            for scalar in grapheme.unicodeScalars {
                let end = start + UTF8.width(scalar)
                if let r = shortestMatch(bytes[start..<end]) {
                    out.append(contentsOf: replacements[r])
                } else {
                    out.append(contentsOf: bytes[start..<end])
                }
                start = end
            }
        }
        // Replacements were checked to be UTF-8 and start at character boundaries.
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: The double array (darts-clone's unit layout)

    private static func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }
    private static func value(_ u: UInt32) -> Int { Int(u & 0x7FFF_FFFF) }
    /// The label byte, or a value no byte equals when the unit is a leaf (bit 31).
    private static func label(_ u: UInt32) -> UInt32 { u & 0x8000_00FF }
    private static func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }

    /// The replacement of the shortest key the bytes start with; a NUL byte ends the key.
    private func shortestMatch(_ key: ArraySlice<UInt8>) -> Range<Int>? {
        var node = Self.offset(units[0])
        for c in key {
            if c == 0 { return nil }
            let p = node ^ Int(c)
            guard p < units.count, Self.label(units[p]) == UInt32(c) else { return nil }
            node = p ^ Self.offset(units[p])
            guard node < units.count else { return nil }
            if Self.hasLeaf(units[p]) { return replacement(at: Self.value(units[node])) }
        }
        return nil
    }

    private func replacement(at start: Int) -> Range<Int>? {
        guard start <= replacements.count else { return nil }
        var end = start
        while end < replacements.count && replacements[end] != 0 { end += 1 }
        return start..<end
    }

    /// Checks every unit that can be a transition (a label byte 1...255): the block of the node it
    /// leads to lies inside the array, and a leaf's value is the start of a replacement. Lookups
    /// only move through such units, so none can leave the array or the strings: a blob the crate
    /// would panic on is refused here instead. Linear in the trie, unlike a walk over all labels.
    private func validate() throws(PrecompiledCharsMapError) {
        let root = Self.offset(units[0])
        guard root | 0xFF < units.count else { throw .outOfBounds(unit: root) }
        for (p, u) in units.enumerated() {
            let c = Self.label(u)
            guard c >= 1 && c <= 255 else { continue }
            let child = p ^ Self.offset(u)
            guard child | 0xFF < units.count else { throw .outOfBounds(unit: child) }
            if Self.hasLeaf(u) {
                let v = Self.value(units[child])
                guard v <= replacements.count, v == replacements.count || replacements[v] & 0xC0 != 0x80 else {
                    throw .badReplacementOffset(v)
                }
            }
        }
    }
}

public enum PrecompiledCharsMapError: Error, Equatable, CustomStringConvertible {
    case truncated(need: Int, have: Int)
    case emptyTrie
    case outOfBounds(unit: Int)
    case badReplacementOffset(Int)
    case replacementsNotUTF8

    public var description: String {
        switch self {
        case let .truncated(need, have): "precompiled_charsmap is truncated: \(have) bytes, the trie needs \(need)"
        case .emptyTrie: "precompiled_charsmap has an empty trie"
        case let .outOfBounds(unit): "precompiled_charsmap's trie reaches unit \(unit), past its end"
        case let .badReplacementOffset(v): "precompiled_charsmap's trie points at byte \(v), not the start of a replacement"
        case .replacementsNotUTF8: "precompiled_charsmap's replacement strings are not UTF-8"
        }
    }
}
