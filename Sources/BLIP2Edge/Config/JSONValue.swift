import Foundation

/// A parsed JSON document, walked by dotted paths ("vision_config.hidden_size").
enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// A JSON object from `data`, or the file's one-line complaint.
    static func object(_ data: Data, file: String) throws(ConfigError) -> JSONValue {
        guard let v = try? JSONDecoder().decode(JSONValue.self, from: data), case .object = v else {
            throw .invalid(file: file, reason: "not a valid JSON object")
        }
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

    var int: Int? { if case let .int(i) = self { i } else { nil } }
    var bool: Bool? { if case let .bool(b) = self { b } else { nil } }
    var string: String? { if case let .string(s) = self { s } else { nil } }
    var number: Double? {
        switch self {
        case let .int(i): Double(i)
        case let .double(d): d
        default: nil
        }
    }
    /// One value or a list of them, as transformers accepts for ids, sizes and means.
    var list: [JSONValue] { if case let .array(a) = self { a } else { [self] } }
}

extension JSONValue {
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
