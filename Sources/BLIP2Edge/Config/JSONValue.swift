import BLIP2System

// The configuration's JSON (config.json and the rest) and a model file's metadata are read
// through the same value type: the GGUF metadata is converted to it.
extension JSONValue {
    /// A JSON object from `data`, or the file's one-line complaint.
    static func object(_ data: [UInt8], file: String) throws(ConfigError) -> JSONValue {
        let v: JSONValue
        do { v = try JSONValue.parse(data) } catch { throw .invalid(file: file, reason: "not valid JSON (\(error))") }
        guard case .object = v else { throw .invalid(file: file, reason: "not a JSON object") }
        return v
    }

    /// The value at a dotted path; nil where any part is absent or null.
    subscript(path: String) -> JSONValue? {
        var v = self
        for key in path.split(separator: ".") {
            guard case let .object(o) = v, let next = o[String(key)] else { return nil }
            v = next
        }
        return v == .null ? nil : v
    }

    /// One value or a list of them, as transformers accepts for ids, sizes and means.
    var list: [JSONValue] { if case let .array(a) = self { a } else { [self] } }

    /// A model file's metadata value, read the way the JSON configuration is.
    init(_ v: GGUFValue) {
        switch v {
        case let .array(_, items): self = .array(items.map(JSONValue.init))
        case let .bool(b): self = .bool(b)
        case let .string(s): self = .string(s)
        case .float32, .float64: self = .double(v.number ?? 0)
        default: self = v.integer.map(JSONValue.int) ?? .null
        }
    }

    /// As JSON writes it, for messages.
    var literal: String {
        switch self {
        case .null: "null"
        case let .bool(b): "\(b)"
        case let .int(i): "\(i)"
        case let .double(d): "\(d)"
        case let .string(s): "\"\(s)\""
        case let .array(a): "[" + a.map(\.literal).joined(separator: ", ") + "]"
        case .object: "an object"
        }
    }
}
