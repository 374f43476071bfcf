/// GPT-2's pre-tokenization, the regex
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// written out as a scanner over Unicode scalars, so that no regex engine is needed and the
/// cost is linear in the text.
enum PreTokenizer {
    enum Kind { case letter, number, space, other }

    static func kind(_ s: Unicode.Scalar) -> Kind {
        if s.properties.isWhitespace { return .space }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    /// Splits `text` into pre-tokens, as ranges of scalar indices.
    static func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let kinds = scalars.map(kind)
        let n = scalars.count
        var pieces: [Range<Int>] = []
        var i = 0
        func run(from j: Int, _ k: Kind) -> Int {
            var e = j
            while e < n && kinds[e] == k { e += 1 }
            return e
        }
        while i < n {
            // 's 't 're 've 'm 'll 'd
            if scalars[i] == "'" {
                if let c = contractions.first(where: { c in
                    i + 1 + c.count <= n && scalars[(i + 1)..<(i + 1 + c.count)].elementsEqual(c)
                }) {
                    pieces.append(i..<(i + 1 + c.count))
                    i += 1 + c.count
                    continue
                }
            }
            // An optional single space, then a run of letters, numbers or other symbols.
            let start = i
            let j = scalars[i] == " " && i + 1 < n && kinds[i + 1] != .space ? i + 1 : i
            if kinds[j] != .space {
                let end = run(from: j, kinds[j])
                pieces.append(start..<end)
                i = end
                continue
            }
            // Whitespace: the run, less its last scalar when a non-space follows (so that
            // the space can lead the next word), unless that would leave nothing.
            let end = run(from: i, .space)
            if end < n && end - i > 1 {
                pieces.append(i..<(end - 1))
                i = end - 1
            } else {
                pieces.append(i..<end)
                i = end
            }
        }
        return pieces
    }
}
