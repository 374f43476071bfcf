#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// printf-style formatting of numbers (`%.2f`, `%5ld`, `%02x`) through the C library's
/// vsnprintf. Strings go through interpolation: `%s` and `%@` are not for this.
public func format(_ format: String, _ arguments: CVarArg...) -> String {
    withVaList(arguments) { list in
        var buffer = [CChar](repeating: 0, count: 128)
        let needed = Int(vsnprintf(&buffer, buffer.count, format, list))
        if needed >= buffer.count {
            buffer = [CChar](repeating: 0, count: needed + 1)
            _ = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension StringProtocol {
    /// Without leading and trailing white space (spaces, tabs, line breaks, Unicode spaces).
    public func trimmed() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = lastIndex(where: { !$0.isWhitespace })!
        return String(self[first...last])
    }

    /// Without leading and trailing spaces and tabs only, as HTTP trims header values.
    public func trimmingSpacesAndTabs() -> String {
        let isBlank = { (c: Character) in c == " " || c == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }) else { return "" }
        let last = lastIndex(where: { !isBlank($0) })!
        return String(self[first...last])
    }
}

extension String {
    /// The lines of a text file: split at "\n" with a "\r" before it dropped (Swift's
    /// Character sees "\r\n" as one, so splitting the String at "\n" would miss them).
    /// A final empty line is kept, as in the file.
    public func textLines() -> [String] {
        utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...], as: UTF8.self)
        }
    }
}

extension String {
    /// Spaces added on the right up to `width` characters (a longer string is left whole).
    public func padded(to width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }

    /// Spaces added on the left up to `width` characters (a longer string is left whole).
    public func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

extension String {
    /// Whether `text` occurs in this string, compared code point by code point. (The standard
    /// library's contains(_: String) lives in _StringProcessing, a megabyte of binary.)
    public func includes(_ text: String) -> Bool {
        let hay = Array(utf8), needle = Array(text.utf8)
        return needle.isEmpty || hay.indices.contains { Self.matches(hay, needle, at: $0) }
    }

    /// Whether `needle` (not empty) starts at byte `i` of `hay`.
    private static func matches(_ hay: [UInt8], _ needle: [UInt8], at i: Int) -> Bool {
        hay[i] == needle[0] && hay.count - i >= needle.count && hay[i..<(i + needle.count)].elementsEqual(needle)
    }

    /// Every occurrence of `target` replaced, left to right, matched code point by code point
    /// (as Python's str.replace: a combining mark after a match does not hide it).
    public func replacingAll(_ target: String, with replacement: String) -> String {
        let hay = Array(utf8), needle = Array(target.utf8)
        guard !needle.isEmpty, hay.count >= needle.count else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(hay.count)
        var i = 0
        while i < hay.count {
            if Self.matches(hay, needle, at: i) {
                out.append(contentsOf: replacement.utf8)
                i += needle.count
            } else {
                out.append(hay[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
