/// A parsed JSON document. Numbers written without a fraction or exponent that fit an Int
/// are `.int`; every other number is `.double`.
public enum JSONValue: Equatable, Sendable {
    case null, bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue])

    /// The document in `bytes` (UTF-8), strictly as RFC 8259 has it: no comments, no trailing
    /// commas, no leading zeros, no lone surrogates, nested at most `JSONParser.maxDepth` deep.
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (b) throws(JSONError) in
            var p = JSONParser(b)
            return try p.document()
        }
    }

    public var int: Int? { if case let .int(i) = self { i } else { nil } }
    public var bool: Bool? { if case let .bool(b) = self { b } else { nil } }
    public var string: String? { if case let .string(s) = self { s } else { nil } }
    public var array: [JSONValue]? { if case let .array(a) = self { a } else { nil } }
    public var object: [String: JSONValue]? { if case let .object(o) = self { o } else { nil } }
    /// An array of integers only; nil for anything else.
    public var intArray: [Int]? { array.flatMap { all($0.map(\.int)) } }
    /// An array of strings only; nil for anything else.
    public var stringArray: [String]? { array.flatMap { all($0.map(\.string)) } }
    /// An object whose values are all strings; nil for anything else.
    public var stringObject: [String: String]? {
        guard let o = object else { return nil }
        var out: [String: String] = [:]
        for (k, v) in o {
            guard let s = v.string else { return nil }
            out[k] = s
        }
        return out
    }

    private func all<T>(_ items: [T?]) -> [T]? {
        var out: [T] = []
        out.reserveCapacity(items.count)
        for case let x? in items { out.append(x) }
        return out.count == items.count ? out : nil
    }

    /// Any number, as a Double.
    public var number: Double? {
        switch self {
        case let .int(i): Double(i)
        case let .double(d): d
        default: nil
        }
    }

    /// How to name the value's kind in an error message.
    public var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Where and why a document is not JSON.
public struct JSONError: Error, Equatable, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "\(reason) at byte \(offset)" }
}
