import Foundation

/// Any JSON value, decoded strictly by JSONDecoder (true is a Bool, never the number 1).
enum JSONNode: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONNode])
    case object([String: JSONNode])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONNode].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONNode].self)) }
    }

    static func parse(_ bytes: [UInt8]) throws(HTTPError) -> JSONNode {
        do {
            return try JSONDecoder().decode(JSONNode.self, from: Data(bytes))
        } catch {
            throw .badRequest("the body is not valid JSON")
        }
    }

    subscript(key: String) -> JSONNode? {
        if case let .object(o) = self { o[key] } else { nil }
    }

    var string: String? { if case let .string(s) = self { s } else { nil } }

    /// How to name the value's kind in an error message.
    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Named request parameters, from a JSON object or from query and form fields, read with
/// one set of checks so that every endpoint words its errors the same way.
protocol RequestFields {
    /// A number, or nil when absent (null counts as absent).
    func number(_ name: String) throws(HTTPError) -> Double?
    func string(_ name: String) throws(HTTPError) -> String?
    func bool(_ name: String) throws(HTTPError) -> Bool?
}

extension RequestFields {
    func int(_ name: String, in range: ClosedRange<Int>) throws(HTTPError) -> Int? {
        guard let x = try number(name) else { return nil }
        // Int(exactly:), not Int(_:): a number beyond Int's range (1e19) must not trap.
        guard let i = Int(exactly: x), range.contains(i) else {
            throw .badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return i
    }

    func float(_ name: String, _ what: String, where allowed: (Double) -> Bool) throws(HTTPError) -> Float? {
        guard let x = try number(name) else { return nil }
        guard x.isFinite, Float(x).isFinite, allowed(x) else { throw .badRequest("\(name) must be \(what)") }
        return Float(x)
    }
}

struct JSONFields: RequestFields {
    let object: [String: JSONNode]

    func value(_ name: String) -> JSONNode? {
        guard let v = object[name], v != .null else { return nil }
        return v
    }

    func number(_ name: String) throws(HTTPError) -> Double? {
        guard let v = value(name) else { return nil }
        guard case let .number(x) = v else { throw .badRequest("\(name) must be a number, not \(v.kind)") }
        return x
    }

    func string(_ name: String) throws(HTTPError) -> String? {
        guard let v = value(name) else { return nil }
        guard case let .string(s) = v else { throw .badRequest("\(name) must be a string, not \(v.kind)") }
        return s
    }

    func bool(_ name: String) throws(HTTPError) -> Bool? {
        guard let v = value(name) else { return nil }
        guard case let .bool(b) = v else { throw .badRequest("\(name) must be true or false, not \(v.kind)") }
        return b
    }
}

/// Query parameters and form fields: text, read as numbers where numbers are wanted.
struct FormFields: RequestFields {
    var values: [(name: String, value: String)]

    func all(_ name: String) -> [String] { values.filter { $0.name == name }.map(\.value) }

    func string(_ name: String) throws(HTTPError) -> String? { all(name).last }

    func number(_ name: String) throws(HTTPError) -> Double? {
        guard let s = all(name).last else { return nil }
        guard let x = Double(s.trimmingCharacters(in: .whitespaces)) else { throw .badRequest("\(name) must be a number, got \"\(s.prefix(40))\"") }
        return x
    }

    func bool(_ name: String) throws(HTTPError) -> Bool? {
        guard let s = all(name).last else { return nil }
        switch s.lowercased() {
        case "1", "true", "yes", "on", "": return true
        case "0", "false", "no", "off": return false
        default: throw .badRequest("\(name) must be true or false, got \"\(s.prefix(40))\"")
        }
    }
}
