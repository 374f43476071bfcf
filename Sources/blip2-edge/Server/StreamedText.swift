import BLIP2Edge
import Foundation

/// Turns token ids, as they come, into pieces of text whose concatenation is exactly the
/// final text (`Session.generate`'s: decoded, then trimmed of surrounding whitespace), so that
/// a streamed reply reassembled equals the non-streamed one. (The library's `TextStream` may
/// leave trailing whitespace in its pieces, which a client cannot take back.)
///
/// A token may end in the middle of a UTF-8 sequence, which decodes to U+FFFD until the next
/// token completes it, and trailing whitespace may turn out to be the end of the text (and
/// trimmed). So each step decodes all ids so far and emits only what can no longer change:
/// the text without leading whitespace, and without trailing whitespace and U+FFFD.
struct StreamedText {
    let tokenizer: Tokenizer
    private var ids: [Int] = []
    private var emitted: [UInt8] = []

    init(tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// The new text that `id` makes certain (often "", never wrong).
    mutating func add(_ id: Int) -> String {
        ids.append(id)
        var scalars = Array(tokenizer.decode(ids).unicodeScalars)
        while let last = scalars.last, last == "\u{FFFD}" || Self.isSpace(last) { scalars.removeLast() }
        return emit(Self.trimmedStart(scalars))
    }

    /// The rest of the text once generation has ended.
    mutating func finish() -> String {
        emit(Array(tokenizer.decode(ids).trimmingCharacters(in: .whitespacesAndNewlines).unicodeScalars))
    }

    private mutating func emit(_ stable: [Unicode.Scalar]) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: stable)
        let bytes = Array(String(s).utf8)
        // Stable text only grows; should it ever not start with what was sent, send nothing
        // rather than text that contradicts it.
        guard bytes.count > emitted.count, bytes.starts(with: emitted) else { return "" }
        let piece = String(decoding: bytes[emitted.count...], as: UTF8.self)
        emitted = bytes
        return piece
    }

    static func isSpace(_ s: Unicode.Scalar) -> Bool { CharacterSet.whitespacesAndNewlines.contains(s) }

    static func trimmedStart(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        Array(scalars.drop { isSpace($0) })
    }
}
