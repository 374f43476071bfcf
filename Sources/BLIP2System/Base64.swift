/// Standard base64 (RFC 4648 section 4) decoding, strict: length a multiple of 4, "=" only
/// as the last one or two characters, no white space. Nil for anything else.
public enum Base64 {
    public static func decode<S: Collection<UInt8>>(_ text: S) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var quad: UInt32 = 0, filled = 0, padding = 0
        for c in text {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="):
                padding += 1
                v = 0
            default: return nil
            }
            // Nothing but padding may follow padding, and at most two of it.
            if padding > 0 && c != UInt8(ascii: "=") { return nil }
            guard padding <= 2 else { return nil }
            quad = quad << 6 | v
            filled += 1
            if filled == 4 {
                out.append(UInt8(truncatingIfNeeded: quad >> 16))
                out.append(UInt8(truncatingIfNeeded: quad >> 8))
                out.append(UInt8(truncatingIfNeeded: quad))
                quad = 0
                filled = 0
            }
        }
        out.removeLast(padding)
        return out
    }
}
