/// JSON text out: strings escaped as RFC 8259 requires ("/" and non-ASCII left as they are),
/// numbers as Swift prints them (shortest round-trip form, "1" rather than "1.0").
enum JSONWriter {
    static func quote(_ s: String, into out: inout String) {
        out.append("\"")
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case "\u{08}": out.append("\\b")
            case "\u{0C}": out.append("\\f")
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out.append("\"")
    }

    static func number<F: BinaryFloatingPoint & LosslessStringConvertible>(_ x: F) -> String? {
        guard x.isFinite else { return nil }
        let s = x.description
        return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
    }
}

extension JSONValue {
    /// The value as compact JSON text, object keys sorted (so equal values print alike); read
    /// back, it is the same value.
    public var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .null: out.append("null")
        case let .bool(b): out.append(b ? "true" : "false")
        case let .int(i): out.append(String(i))
        case let .double(d): out.append(d.isFinite ? d.description : "null") // "1.0" stays a double when read back
        case let .string(s): JSONWriter.quote(s, into: &out)
        case let .array(a):
            out.append("[")
            for (k, v) in a.enumerated() {
                if k > 0 { out.append(",") }
                v.write(into: &out)
            }
            out.append("]")
        case let .object(o):
            out.append("{")
            for (k, key) in o.keys.sorted().enumerated() {
                if k > 0 { out.append(",") }
                JSONWriter.quote(key, into: &out)
                out.append(":")
                o[key]!.write(into: &out)
            }
            out.append("}")
        }
    }
}
