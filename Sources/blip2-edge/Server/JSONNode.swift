import BLIP2System

/// A request body's JSON, parsed strictly (true is a Bool, never the number 1; numbers are
/// read as Double where a parameter wants one).
typealias JSONNode = JSONValue

extension JSONValue {
    static func parseBody(_ bytes: [UInt8]) throws(HTTPError) -> JSONValue {
        do {
            return try parse(bytes)
        } catch {
            throw .badRequest("the body is not valid JSON")
        }
    }

    subscript(key: String) -> JSONValue? {
        if case let .object(o) = self { o[key] } else { nil }
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
        guard let x = v.number else { throw .badRequest("\(name) must be a number, not \(v.kind)") }
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
        guard let x = Double(s.trimmingSpacesAndTabs()) else { throw .badRequest("\(name) must be a number, got \"\(s.prefix(40))\"") }
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
